package technicians

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Kick asks Run to publish pending documents now.
func (s *Service) Kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run publishes pending documents until ctx ends: when kicked, every RetryInterval, and
// compares every city's document with its bucket when a downlink first appears and every
// FullCheck.
func (s *Service) Run(ctx context.Context) {
	tick := time.NewTicker(s.cfg.RetryInterval)
	defer tick.Stop()
	var lastFull time.Time
	for {
		if d := s.cfg.Downlink(); d != nil {
			full := lastFull.IsZero() || time.Since(lastFull) >= s.cfg.FullCheck
			if err := s.Sync(ctx, d, full); err == nil && full {
				lastFull = time.Now()
			} else if err != nil && ctx.Err() == nil {
				s.log.Warn("technicians sync failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.wake:
		}
	}
}

// Sync publishes every pending city document through d; with full, it also compares every
// city's document with its bucket and publishes those the bucket lacks or holds older
// (a bucket lost with a NATS store). It returns an error only when the cities could not
// be listed; a city that failed is recorded (publish_error) and retried later.
func (s *Service) Sync(ctx context.Context, d Publisher, full bool) error {
	list, err := cities(ctx, s.cfg.DB, full)
	if err != nil {
		return err
	}
	for _, c := range list {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = s.push(ctx, d, c.code, c.id, full) // recorded in technician_docs and logged
	}
	return nil
}

// pushNow publishes a city's document right after a change; without a downlink the
// document stays pending and Run publishes it once there is one.
func (s *Service) pushNow(ctx context.Context, city link.CityID, cityID int64) {
	d := s.cfg.Downlink()
	if d == nil {
		s.Kick()
		return
	}
	if err := s.push(ctx, d, city, cityID, false); err != nil {
		s.Kick() // Run retries soon, not only at the next tick
	}
}

// push builds and publishes a city's document unless it is published already (the
// database says so, or with checkBucket the bucket holds that version or a newer one).
func (s *Service) push(ctx context.Context, d Publisher, city link.CityID, cityID int64, checkBucket bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The change is committed: its publication is not cancelled with the request.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.PushTimeout)
	defer cancel()
	log := s.log.With("city", city)
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var doc *link.TechniciansDoc
		doc, err = buildDocument(ctx, s.cfg.DB, city, cityID)
		if errors.Is(err, errNoDocument) {
			return nil
		}
		if err != nil {
			break
		}
		if !checkBucket {
			if st, err := docState(ctx, s.cfg.DB, cityID); err == nil && st.PublishedVersion >= doc.Version {
				return nil // another push got there first
			}
		} else if cur, err := d.CurrentConfig(ctx, city, link.ConfigTechnicians); err == nil && cur.Version >= doc.Version {
			return s.published(ctx, cityID, doc.Version)
		}
		_, err = d.PublishConfig(ctx, city, doc)
		switch {
		case err == nil:
			log.Info("technicians published", "version", doc.Version, "count", len(doc.Technicians))
			return s.published(ctx, cityID, doc.Version)
		case errors.Is(err, downlink.ErrNotNewer):
			// The bucket holds this version or a newer one (another process published).
			return s.published(ctx, cityID, doc.Version)
		case errors.Is(err, downlink.ErrConflict):
			continue // another writer in between: rebuild and try again
		}
		break
	}
	if err == nil {
		err = fmt.Errorf("technicians: publish %s: %w", city, downlink.ErrConflict)
	}
	log.Warn("technicians not published: will retry", "err", err)
	if merr := markFailed(ctx, s.cfg.DB, cityID, err); merr != nil {
		log.Warn("technicians publish error not recorded", "err", merr)
	}
	return err
}

func (s *Service) published(ctx context.Context, cityID, version int64) error {
	if err := markPublished(ctx, s.cfg.DB, cityID, version); err != nil {
		s.log.Warn("technicians publication not recorded", "err", err)
		return err
	}
	return nil
}

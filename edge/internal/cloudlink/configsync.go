package cloudlink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/edge/internal/configstore"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// kinds are the keys of a city's bucket this gateway applies.
var kinds = []string{link.ConfigZones, link.ConfigVehicles, link.ConfigTariffs, link.ConfigTechnicians}

// Reasons a configuration document was not applied (metric label).
const (
	ReasonInvalid  = "invalid"     // decode, Validate, zone.Load or the Applier refused it
	ReasonCity     = "wrong_city"  // the document names another city
	ReasonStale    = "stale"       // version below the one in force
	ReasonConflict = "conflict"    // same version as the one in force, other content
	ReasonDeleted  = "deleted"     // key deleted or purged in the cloud
	ReasonUnknown  = "unknown_key" // a key this gateway does not know
	ReasonStore    = "store"       // the local store failed
)

// errRestart ends one watch so that it starts again (after a reconnection).
var errRestart = errors.New("restart watch")

// watchLoop keeps a watch on the city's bucket while ctx lives: it waits for
// the connection, watches, and starts over after every (re)connection or
// failure (backoff with jitter between failures).
func (l *Link) watchLoop(ctx context.Context, status <-chan nats.Status) {
	fails := 0
	for ctx.Err() == nil {
		if !l.waitConnected(ctx, status) {
			return
		}
		err := l.watch(ctx, status)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errRestart):
			fails = 0
			l.countWatchRestart()
			continue
		}
		d := min(l.cfg.WatchRetryMin<<min(fails, 20), l.cfg.WatchRetryMax)
		d = d/2 + rand.N(d/2+1)
		fails++
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			// Normal until the cloud publishes the city's first document.
			l.log.Debug("config bucket not found, retrying", "bucket", l.bucket, "in", d)
		} else {
			l.log.Warn("config watch failed, retrying", "bucket", l.bucket, "err", err, "in", d)
		}
		if !sleep(ctx, d) {
			return
		}
	}
}

// waitConnected returns true once the connection is up, false when ctx ends
// or the connection is closed for good.
func (l *Link) waitConnected(ctx context.Context, status <-chan nats.Status) bool {
	// The status channel drops events when full, so poll as well.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for !l.nc.IsConnected() {
		if l.nc.IsClosed() {
			l.log.Warn("NATS connection closed: configuration watch stops")
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-status:
		case <-tick.C:
		}
	}
	return ctx.Err() == nil
}

// watch runs one watch of the bucket: the current values, then changes, until
// ctx ends, the connection comes back from an outage (errRestart) or the
// watch fails.
func (l *Link) watch(ctx context.Context, status <-chan nats.Status) error {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	kv, err := l.js.KeyValue(lctx, l.bucket)
	cancel()
	if err != nil {
		return fmt.Errorf("bucket %s: %w", l.bucket, err)
	}
	// The watch's context lives as long as the watch: ending it unsubscribes.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := kv.WatchAll(wctx)
	if err != nil {
		return fmt.Errorf("watch %s: %w", l.bucket, err)
	}
	defer func() {
		// Stop unsubscribes and deletes the watch's consumer, a JetStream API
		// call that waits for its timeout (5 s) while disconnected; so it runs
		// in the background, bounded by that timeout or the connection closing.
		// The watch's callback may be blocked handing over an entry: drain
		// until the channel closes.
		go func() {
			if err := w.Stop(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
				l.log.Debug("config watch stop", "err", err)
			}
		}()
		go func() {
			for range w.Updates() {
			}
		}()
	}()
	l.log.Info("watching configuration", "bucket", l.bucket)
	for {
		select {
		case <-ctx.Done():
			return nil
		case s := <-status:
			if s == nats.CONNECTED {
				return errRestart
			}
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("config watch ended")
			}
			if e == nil {
				l.log.Debug("configuration up to date", "bucket", l.bucket)
				continue
			}
			l.handleEntry(e)
		}
	}
}

// handleEntry validates, persists and applies one KV entry, or counts why not.
func (l *Link) handleEntry(e jetstream.KeyValueEntry) {
	kind := e.Key()
	known := false
	for _, k := range kinds {
		known = known || k == kind
	}
	log := l.log.With("kind", kind, "revision", e.Revision())
	if !known {
		l.reject("other", ReasonUnknown)
		log.Warn("unknown configuration key ignored")
		return
	}
	if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		l.reject(kind, ReasonDeleted)
		log.Warn("configuration key deleted in the cloud: keeping the last document", "err", ErrDeleted)
		return
	}
	u, err := l.decode(kind, e.Value())
	if err != nil {
		reason := ReasonInvalid
		if errors.Is(err, ErrWrongCity) {
			reason = ReasonCity
		}
		l.reject(kind, reason)
		log.Error("configuration document rejected: keeping the last good one", "reason", reason, "err", err)
		return
	}
	log = log.With("version", u.Version)
	cur, err := l.cfg.Store.Get(kind)
	switch {
	case errors.Is(err, configstore.ErrNotFound):
	case err != nil:
		l.reject(kind, ReasonStore)
		log.Error("configuration store read failed", "err", err)
		return
	case cur.Version > uint64(u.Version):
		l.reject(kind, ReasonStale)
		log.Warn("older configuration document ignored", "in_force", cur.Version)
		return
	case cur.Version == uint64(u.Version) && bytes.Equal(cur.Data, u.Stored):
		log.Debug("configuration document already in force")
		return
	case cur.Version == uint64(u.Version):
		l.reject(kind, ReasonConflict)
		log.Error("configuration document has the version in force with other content: ignored")
		return
	}
	install, err := l.cfg.Applier.PrepareConfig(u)
	if err != nil {
		l.reject(kind, ReasonInvalid)
		log.Error("configuration document refused by the gateway: keeping the last good one", "err", err)
		return
	}
	if _, err := l.cfg.Store.Put(configstore.Document{Name: kind, Version: uint64(u.Version), Data: u.Stored}); err != nil {
		reason := ReasonStore
		switch {
		case errors.Is(err, configstore.ErrStaleVersion):
			reason = ReasonStale
		case errors.Is(err, configstore.ErrVersionConflict):
			reason = ReasonConflict
		}
		l.reject(kind, reason)
		log.Error("configuration document not stored: not applied", "reason", reason, "err", err)
		return
	}
	install()
	l.applied(kind, u.Version)
	log.Info("configuration applied", "bytes", len(u.Stored))
}

// decode parses and validates a document of kind.
func (l *Link) decode(kind string, data []byte) (Update, error) {
	u := Update{Kind: kind, Stored: bytes.Clone(data)}
	var (
		city link.CityID
		err  error
	)
	switch kind {
	case link.ConfigZones:
		d := new(link.ZonesDoc)
		if err = unmarshalValid(data, d); err == nil {
			city, u.Version, u.Stored = d.City, d.Version, bytes.Clone(d.Geofence)
		}
	case link.ConfigVehicles:
		d := new(link.VehiclesDoc)
		if err = unmarshalValid(data, d); err == nil {
			city, u.Version, u.Vehicles = d.City, d.Version, d
		}
	case link.ConfigTariffs:
		d := new(link.TariffsDoc)
		if err = unmarshalValid(data, d); err == nil {
			city, u.Version, u.Tariffs = d.City, d.Version, d
		}
	case link.ConfigTechnicians:
		d := new(link.TechniciansDoc)
		if err = unmarshalValid(data, d); err == nil {
			city, u.Version, u.Technicians = d.City, d.Version, d
		}
	default:
		err = fmt.Errorf("unknown kind %q", kind)
	}
	if err != nil {
		return Update{}, fmt.Errorf("%w: %s: %w", ErrInvalidDocument, kind, err)
	}
	if city != l.cfg.City {
		return Update{}, fmt.Errorf("%w: %s for %q, this gateway serves %q", ErrWrongCity, kind, city, l.cfg.City)
	}
	if kind == link.ConfigZones {
		if u.Zones, err = zone.Load(u.Stored, l.cfg.ZoneOptions); err != nil {
			return Update{}, fmt.Errorf("%w: %s: %w", ErrInvalidDocument, kind, err)
		}
	}
	return u, nil
}

func unmarshalValid[T any, P interface {
	*T
	Validate() error
}](data []byte, d P) error {
	if err := json.Unmarshal(data, d); err != nil {
		return err
	}
	return d.Validate()
}

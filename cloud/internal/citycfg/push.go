package citycfg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Publisher is what pushing needs of the downlink (*downlink.Downlink).
type Publisher interface {
	PublishConfig(ctx context.Context, city link.CityID, doc downlink.Document) (uint64, error)
	CurrentConfig(ctx context.Context, city link.CityID, kind string) (downlink.Published, error)
}

// DB is the database pushing reads and marks: a *pgxpool.Pool.
type DB interface {
	Querier
	TxBeginner
}

// Pusher defaults.
const (
	DefaultRetryInterval = 10 * time.Second
	DefaultFullCheck     = 5 * time.Minute
	DefaultPushTimeout   = 10 * time.Second
)

// PusherConfig wires a Pusher.
type PusherConfig struct {
	DB DB
	// Downlink returns the downlink, or nil while there is none (role api, NATS not started).
	Downlink func() Publisher
	Log      *slog.Logger
	// RetryInterval is how often pending documents are retried (default 10 s).
	RetryInterval time.Duration
	// FullCheck is how often every document is compared with the city's bucket, as at
	// start (default 5 min).
	FullCheck time.Duration
	// PushTimeout bounds one document's push (default 10 s).
	PushTimeout time.Duration
}

// Pusher publishes the cities' configuration documents to their buckets. See doc.go.
type Pusher struct {
	cfg  PusherConfig
	log  *slog.Logger
	mu   sync.Mutex // serialises this process's pushes (build, publish, mark)
	wake chan struct{}
}

// NewPusher returns a Pusher; Run it in the background.
func NewPusher(cfg PusherConfig) (*Pusher, error) {
	if cfg.DB == nil || cfg.Downlink == nil {
		return nil, errors.New("citycfg: pusher needs a database and a downlink getter")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.FullCheck <= 0 {
		cfg.FullCheck = DefaultFullCheck
	}
	if cfg.PushTimeout <= 0 {
		cfg.PushTimeout = DefaultPushTimeout
	}
	return &Pusher{cfg: cfg, log: cfg.Log.With("component", "citycfg.pusher"), wake: make(chan struct{}, 1)}, nil
}

// Kick asks Run to look for pending documents now.
func (p *Pusher) Kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run publishes pending documents until ctx ends: when kicked, every RetryInterval, and a
// full comparison with the buckets when the downlink first appears and every FullCheck.
func (p *Pusher) Run(ctx context.Context) {
	var lastFull time.Time
	for {
		if d := p.cfg.Downlink(); d != nil {
			full := lastFull.IsZero() || time.Since(lastFull) >= p.cfg.FullCheck
			if err := p.Sync(ctx, d, full); err == nil && full {
				lastFull = time.Now()
			} else if err != nil && ctx.Err() == nil {
				p.log.Warn("configuration sync failed", "err", err)
			}
		}
		// Until the first full sync (the downlink is not up yet) look every second.
		wait := p.cfg.RetryInterval
		if lastFull.IsZero() {
			wait = min(wait, time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-p.wake:
			t.Stop()
		}
	}
}

// Sync publishes every pending document through d; with full, it also compares every
// document with the city's bucket and publishes those the bucket lacks or holds older.
// It returns an error when the documents could not be listed; a document that failed is
// recorded (publish_error) and retried by the next Sync.
func (p *Pusher) Sync(ctx context.Context, d Publisher, full bool) error {
	rows, err := p.cfg.DB.Query(ctx, `SELECT `+cityCols+`, d.kind FROM city_config_docs d
		JOIN LATERAL (SELECT `+cityCols+` FROM cities WHERE id = d.city_id) c ON true
		WHERE $1 OR d.published_version < d.version ORDER BY c.code, d.kind`, full)
	if err != nil {
		return fmt.Errorf("citycfg: sync: %w", err)
	}
	type item struct {
		city City
		kind string
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (item, error) {
		var it item
		var code string
		err := r.Scan(&it.city.ID, &code, &it.city.Name, &it.city.Timezone, &it.city.Currency, &it.city.CreatedAt, &it.kind)
		it.city.Code = link.CityID(code)
		return it, err
	})
	if err != nil {
		return fmt.Errorf("citycfg: sync: %w", err)
	}
	for _, it := range items {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = p.push(ctx, d, it.city, it.kind, full) // recorded in city_config_docs and logged
	}
	return nil
}

// PushCity publishes the city's pending documents of kinds now (synchronously) and returns
// their states afterwards. Without a downlink nothing is published: the states say
// pending, and Run publishes later.
func (p *Pusher) PushCity(ctx context.Context, city City, kinds ...string) []DocState {
	if d := p.cfg.Downlink(); d != nil {
		for _, k := range kinds {
			_ = p.push(ctx, d, city, k, false) // recorded in the state
		}
	} else {
		p.Kick()
	}
	states, err := DocStates(ctx, p.cfg.DB, city.ID)
	if err != nil {
		p.log.Warn("document states unreadable", "city", city.Code, "err", err)
		return nil
	}
	out := states[:0]
	for _, s := range states {
		for _, k := range kinds {
			if s.Kind == k {
				out = append(out, s)
			}
		}
	}
	return out
}

// push builds and publishes one document unless the bucket already has its version
// (checkBucket) or the database says it was published.
func (p *Pusher) push(ctx context.Context, d Publisher, city City, kind string, checkBucket bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.cfg.PushTimeout)
	defer cancel()
	log := p.log.With("city", city.Code, "kind", kind)
	for attempt := 0; ; attempt++ {
		doc, version, err := BuildDocument(ctx, p.cfg.DB, city, kind)
		if errors.Is(err, errNoDocument) || errors.Is(err, ErrNotFound) {
			return nil // nothing of that kind yet (e.g. zones never uploaded)
		}
		if err != nil {
			return p.failed(ctx, log, city, kind, err)
		}
		if !checkBucket {
			var published int64
			if err := p.cfg.DB.QueryRow(ctx, `SELECT published_version FROM city_config_docs WHERE city_id = $1 AND kind = $2`,
				city.ID, kind).Scan(&published); err == nil && published >= version {
				return nil // another push got there first
			}
		}
		if checkBucket {
			if cur, err := d.CurrentConfig(ctx, city.Code, kind); err == nil && cur.Version >= version {
				if cur.Version == version {
					return p.published(ctx, city, kind, version)
				}
				if attempt == 0 {
					if err := p.leapfrog(ctx, city, kind, version, cur.Version); err != nil {
						return p.failed(ctx, log, city, kind, err)
					}
					continue
				}
			}
		}
		_, err = d.PublishConfig(ctx, city.Code, doc)
		switch {
		case err == nil:
			log.Info("configuration pushed", "version", version)
			return p.published(ctx, city, kind, version)
		case errors.Is(err, downlink.ErrNotNewer) && attempt == 0:
			// The bucket holds this version or a higher one (another process, or a database
			// restored from an older backup): look again, comparing with the bucket.
			checkBucket = true
			continue
		}
		return p.failed(ctx, log, city, kind, err)
	}
}

// leapfrog raises a document's version above what the bucket holds (the database was
// behind the bucket), so the database's content is published next.
func (p *Pusher) leapfrog(ctx context.Context, city City, kind string, version, bucket int64) error {
	p.log.Warn("bucket holds a newer document version than the database: republishing the database's",
		"city", city.Code, "kind", kind, "version", version, "bucket_version", bucket)
	_, err := p.cfg.DB.Exec(ctx, `UPDATE city_config_docs SET version = greatest(version, $3::bigint + 1)
		WHERE city_id = $1 AND kind = $2`, city.ID, kind, bucket)
	if err != nil {
		return fmt.Errorf("citycfg: raise %s version: %w", kind, err)
	}
	return nil
}

func (p *Pusher) published(ctx context.Context, city City, kind string, version int64) error {
	ctx, cancel := detached(ctx)
	defer cancel()
	_, err := p.cfg.DB.Exec(ctx, `UPDATE city_config_docs SET published_version = greatest(published_version, $3::bigint),
		published_at = now(), publish_error = NULL WHERE city_id = $1 AND kind = $2`, city.ID, kind, version)
	if err != nil {
		return fmt.Errorf("citycfg: mark %s published: %w", kind, err)
	}
	return nil
}

// failed records why a push failed; it logs when the reason changed (not every retry).
func (p *Pusher) failed(ctx context.Context, log *slog.Logger, city City, kind string, cause error) error {
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	var changed bool
	ctx, cancel := detached(ctx)
	defer cancel()
	err := p.cfg.DB.QueryRow(ctx, `WITH old AS (
			SELECT publish_error FROM city_config_docs WHERE city_id = $1 AND kind = $2 FOR UPDATE)
		UPDATE city_config_docs d SET publish_error = $3 FROM old WHERE d.city_id = $1 AND d.kind = $2
		RETURNING old.publish_error IS DISTINCT FROM $3`, city.ID, kind, msg).Scan(&changed)
	if err != nil || changed {
		log.Warn("configuration push failed; retrying later", "err", cause)
	}
	return cause
}

// detached is ctx without its cancellation, bounded: recording the outcome of a publish
// that used up the push's time must still happen.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

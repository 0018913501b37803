package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
)

// ErrNoClickHouse means ClickHouse is not connected (yet): analytics answer 503, the sync waits.
var ErrNoClickHouse = errors.New("analytics: ClickHouse not connected")

// Querier runs PostgreSQL queries: a *pgxpool.Pool (as fleetedge_app), a pgx.Tx or a *pgx.Conn.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// TxBeginner starts PostgreSQL transactions: a *pgxpool.Pool as fleetedge_app.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// syncLockKey is the advisory lock that lets one process at a time run a pass ("ridesync" in
// ASCII): every API replica runs the task, one copies, the others skip the tick.
const syncLockKey int64 = 0x7269646573796e63

// SyncConfig configures a RideSync.
type SyncConfig struct {
	PG         TxBeginner
	ClickHouse func() *chstore.Store // nil result: not connected yet
	// Interval between passes (default 10 s).
	Interval time.Duration
	// Overlap re-read below the watermark each pass (default 2 min).
	Overlap time.Duration
	// Every ReconcileEvery passes (default 360, one hour at 10 s) a pass re-reads
	// ReconcileOverlap (default 24 h) instead.
	ReconcileEvery   int
	ReconcileOverlap time.Duration
	// Batch is the number of rides read and inserted at once (default 5,000).
	Batch int
	// Registerer gets the sync's metrics (nil: not registered).
	Registerer prometheus.Registerer
	Log        *slog.Logger
}

// syncMetrics are the ride sync's Prometheus metrics.
type syncMetrics struct {
	copied    prometheus.Counter
	failures  prometheus.Counter
	watermark prometheus.Gauge
}

// RideSync copies ended rides from PostgreSQL to ClickHouse (see the package documentation).
// Run loops on the caller's goroutine; SyncOnce must not run concurrently with itself (two
// passes would only insert duplicates, which queries ignore, but waste work).
type RideSync struct {
	cfg SyncConfig
	log *slog.Logger
	m   syncMetrics
}

// NewRideSync checks cfg and fills its defaults.
func NewRideSync(cfg SyncConfig) (*RideSync, error) {
	if cfg.PG == nil || cfg.ClickHouse == nil {
		return nil, errors.New("analytics: ride sync needs PostgreSQL and ClickHouse")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = 2 * time.Minute
	}
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = 360
	}
	if cfg.ReconcileOverlap <= 0 {
		cfg.ReconcileOverlap = 24 * time.Hour
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 5000
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	m := syncMetrics{
		copied: prometheus.NewCounter(prometheus.CounterOpts{Name: "fleetedge_ride_sync_rides_total",
			Help: "Ended rides copied from PostgreSQL to ClickHouse (new rides and newer versions)."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "fleetedge_ride_sync_failures_total",
			Help: "Ride sync passes that failed (retried at the next tick)."}),
		watermark: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fleetedge_ride_sync_watermark_seconds",
			Help: "Change time (Unix seconds) of the newest ride copy in ClickHouse: now minus this is the sync's lag when rides end."}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{m.copied, m.failures, m.watermark} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("analytics: register ride sync metrics: %w", err)
			}
		}
	}
	return &RideSync{cfg: cfg, log: cfg.Log.With("component", "ridesync"), m: m}, nil
}

// Run syncs every Interval until ctx ends. A failed pass is logged and retried at the next
// tick; nothing is lost since the watermark lives in ClickHouse with the rows.
func (s *RideSync) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for pass := 0; ; pass++ {
		overlap := s.cfg.Overlap
		if pass%s.cfg.ReconcileEvery == 0 {
			overlap = s.cfg.ReconcileOverlap
		}
		n, err := s.SyncOnce(ctx, overlap)
		switch {
		case errors.Is(err, ErrNoClickHouse):
			s.log.Debug("ride sync waiting for ClickHouse")
		case err != nil && ctx.Err() == nil:
			s.m.failures.Inc()
			s.log.Warn("ride sync failed", "err", err)
		case n > 0:
			s.log.Info("rides synced", "rides", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// The rides to copy, in change order: keyset on (greatest(updated_at, ended_at), id), the
// expression an index would need (see the package documentation). The version is the change
// time in microseconds (timestamptz's own precision: exact).
const selectEndedRides = `
SELECT r.id::text, c.code, v.number, r.rider_id::text, r.started_at, r.ended_at, r.distance_m,
       coalesce(r.fare_total_minor, 0), r.currency::text, r.start_lat, r.start_lon, r.end_lat, r.end_lon,
       greatest(r.updated_at, r.ended_at)
FROM rides r JOIN cities c ON c.id = r.city_id JOIN vehicles v ON v.id = r.vehicle_id
WHERE r.state = 'ended' AND greatest(r.updated_at, r.ended_at) >= $1
  AND (greatest(r.updated_at, r.ended_at), r.id) > ($2, $3::uuid)
ORDER BY greatest(r.updated_at, r.ended_at), r.id
LIMIT $4`

// SyncOnce copies the ended rides changed since the watermark minus overlap and returns how
// many rows it inserted. It runs in a PostgreSQL transaction holding an advisory lock, so
// passes of several processes never overlap; when another process holds it, SyncOnce copies
// nothing and returns 0.
func (s *RideSync) SyncOnce(ctx context.Context, overlap time.Duration) (n int, err error) {
	st := s.cfg.ClickHouse()
	if st == nil {
		return 0, ErrNoClickHouse
	}
	err = pgx.BeginFunc(ctx, s.cfg.PG, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, syncLockKey).Scan(&locked); err != nil {
			return fmt.Errorf("analytics: ride sync: lock: %w", err)
		}
		if !locked {
			return nil
		}
		n, err = s.pass(ctx, tx, st, overlap)
		return err
	})
	return n, err
}

func (s *RideSync) pass(ctx context.Context, tx pgx.Tx, st *chstore.Store, overlap time.Duration) (int, error) {
	wm, err := st.RideWatermark(ctx)
	if err != nil {
		return 0, fmt.Errorf("analytics: ride sync: %w", err)
	}
	s.m.watermark.Set(float64(wm) / 1e6)
	since := int64(0)
	if o := overlap.Microseconds(); int64(wm) > o {
		since = int64(wm) - o
	}
	sinceT := time.UnixMicro(since).UTC()
	stored, err := st.RideVersionsSince(ctx, uint64(since))
	if err != nil {
		return 0, fmt.Errorf("analytics: ride sync: %w", err)
	}
	have := make(map[string]uint64, len(stored))
	for _, v := range stored {
		have[v.ID] = v.Version
	}
	lastAt, lastID := sinceT, "00000000-0000-0000-0000-000000000000"
	total := 0
	for {
		batch, last, err := s.readBatch(ctx, tx, sinceT, lastAt, lastID)
		if err != nil {
			return total, err
		}
		if len(batch) == 0 && last == nil {
			return total, nil
		}
		fresh := batch[:0]
		for _, r := range batch {
			if v, ok := have[r.ID]; !ok || v < r.Version {
				fresh = append(fresh, r)
			}
		}
		if err := st.InsertRides(ctx, fresh); err != nil {
			return total, fmt.Errorf("analytics: ride sync: %w", err)
		}
		total += len(fresh)
		s.m.copied.Add(float64(len(fresh)))
		if last == nil {
			return total, nil
		}
		lastAt, lastID = last.at, last.id
	}
}

type keyset struct {
	at time.Time
	id string
}

// readBatch reads up to Batch rides after (lastVer, lastID); last is non-nil when a full batch
// came back (there may be more).
func (s *RideSync) readBatch(ctx context.Context, tx pgx.Tx, since, lastAt time.Time, lastID string) ([]chstore.RideRow, *keyset, error) {
	rows, err := tx.Query(ctx, selectEndedRides, since, lastAt, lastID, s.cfg.Batch)
	if err != nil {
		return nil, nil, fmt.Errorf("analytics: ride sync: read rides: %w", err)
	}
	defer rows.Close()
	var (
		out []chstore.RideRow
		k   keyset
	)
	for rows.Next() {
		var (
			r          chstore.RideRow
			ended      *time.Time
			elat, elon *float64
			dist       int64
			changed    time.Time
		)
		if err := rows.Scan(&r.ID, &r.City, &r.Vehicle, &r.Rider, &r.StartedAt, &ended, &dist, &r.FareTotalMinor,
			&r.Currency, &r.StartLat, &r.StartLon, &elat, &elon, &changed); err != nil {
			return nil, nil, fmt.Errorf("analytics: ride sync: scan ride: %w", err)
		}
		ver := changed.UnixMicro()
		if ended == nil || dist < 0 || ver < 0 {
			return nil, nil, fmt.Errorf("analytics: ride sync: ride %s: ended ride without end time or with negative distance", r.ID)
		}
		r.EndedAt, r.DistanceM, r.Version = *ended, uint64(dist), uint64(ver)
		if elat != nil && elon != nil {
			r.HasEnd, r.EndLat, r.EndLon = true, *elat, *elon
		}
		out = append(out, r)
		k = keyset{at: changed, id: r.ID}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("analytics: ride sync: read rides: %w", err)
	}
	if len(out) < s.cfg.Batch {
		return out, nil, nil
	}
	return out, &k, nil
}

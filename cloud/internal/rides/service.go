package rides

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/cloud/internal/ledger"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Service runs rides. See the package documentation.
type Service struct {
	cfg   Config
	log   *slog.Logger
	index Index
	zones zoneCache

	locks keyedMutex // one API operation per ride at a time in this process
	// ending holds the rides this process is ending (power-off sent, fare not yet charged):
	// the gateway's ride_ended "cloud" event for them is left to that end, which prices the
	// ride with its own reason.
	ending sync.Map

	bg  sync.WaitGroup // power-offs of aborted reservations
	met *metrics
}

// New builds a Service.
func New(cfg Config) (*Service, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: cfg.Log.With("component", "rides"), met: m}, nil
}

// Index is the nearby-vehicles index (rebuilt by Run; RefreshIndex rebuilds it now).
func (s *Service) Index() *Index { return &s.index }

// RefreshIndex rebuilds the nearby index now.
func (s *Service) RefreshIndex(ctx context.Context) error { return s.refreshIndex(ctx) }

// Run rebuilds the nearby index every NearbyRefresh and cancels stale reservations until ctx
// ends, then waits for the power-offs it started.
func (s *Service) Run(ctx context.Context) {
	defer s.bg.Wait()
	refresh := time.NewTicker(s.cfg.NearbyRefresh)
	defer refresh.Stop()
	sweep := time.NewTicker(max(s.cfg.StaleStartingAfter/4, time.Second))
	defer sweep.Stop()
	if err := s.refreshIndex(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("nearby index refresh failed", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-refresh.C:
			if err := s.refreshIndex(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("nearby index refresh failed", "err", err)
			}
		case <-sweep.C:
			if n, err := s.SweepStale(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("stale reservation sweep failed", "err", err)
			} else if n > 0 {
				s.log.Info("stale reservations cancelled", "rides", n)
			}
		}
	}
}

// Wait waits for the background power-offs started by event handling.
func (s *Service) Wait() { s.bg.Wait() }

func (s *Service) lock(rideID string) func() { return s.locks.lock(rideID) }

// keyedMutex is a mutex per key, created on demand and dropped when unused.
type keyedMutex struct {
	mu sync.Mutex // guards m and every entry's n
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu sync.Mutex
	n  int // holders and waiters
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.n++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.n--; e.n == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// command sends one command of a ride and maps the result to the package's errors.
func (s *Service) command(ctx context.Context, r Ride, code int, suffix string, timeout time.Duration) error {
	cmd := s.cfg.Commander()
	if cmd == nil {
		return ErrUnavailable
	}
	// The command outlives a rider who hangs up: its outcome must be recorded either way.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout+5*time.Second)
	defer cancel()
	res, err := cmd.SendCommand(cctx, linkCity(r.City), link.CommandRequest{
		V: link.Version, ID: r.ID + ":" + suffix, Vehicle: r.Vehicle, Code: code,
		Source: "ride:" + r.ID, TimeoutMs: int(timeout / time.Millisecond),
	})
	switch {
	case errors.Is(err, downlink.ErrNoGateway):
		return fmt.Errorf("%w: %w", ErrGatewayUnreachable, err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrVehicleNotResponding, err)
	}
	switch res.Outcome {
	case link.OutcomeAcked:
		return nil
	case link.OutcomeFailed, link.OutcomeRejected:
		return fmt.Errorf("%w: command %d: %s %s", ErrVehicleRefused, code, res.Outcome, res.Error)
	}
	return fmt.Errorf("%w: command %d: %s", ErrVehicleNotResponding, code, res.Outcome)
}

// Start reserves the vehicle a rider scanned, powers it on and starts the ride on the
// scooter's ack. On any failure after the reservation the ride is cancelled: no ride, no
// charge, the vehicle released.
func (s *Service) Start(ctx context.Context, riderID, vehicleRef string) (r Ride, err error) {
	t0 := time.Now()
	defer func() {
		s.met.starts.WithLabelValues(startOutcome(err)).Inc()
		if err == nil || errors.Is(err, ErrVehicleRefused) || errors.Is(err, ErrVehicleNotResponding) {
			s.met.unlock.Observe(time.Since(t0).Seconds())
		}
	}()
	return s.start(ctx, riderID, vehicleRef)
}

func (s *Service) start(ctx context.Context, riderID, vehicleRef string) (Ride, error) {
	number, err := ParseVehicleRef(vehicleRef)
	if err != nil {
		return Ride{}, err
	}
	if s.cfg.Commander() == nil {
		return Ride{}, ErrUnavailable
	}
	r, err := s.reserve(ctx, riderID, number)
	if err != nil {
		return Ride{}, err
	}
	unlock := s.lock(r.ID)
	defer unlock()
	if err := s.command(ctx, r, 1, "start", s.cfg.UnlockTimeout); err != nil {
		reason := "vehicle_not_responding"
		switch {
		case errors.Is(err, ErrVehicleRefused):
			reason = "vehicle_refused"
		case errors.Is(err, ErrGatewayUnreachable):
			reason = "gateway_unreachable"
		case errors.Is(err, ErrUnavailable):
			reason = "unavailable"
		}
		cr, cerr := s.cancel(context.WithoutCancel(ctx), r.ID, reason)
		if cerr != nil {
			return Ride{}, errors.Join(err, cerr)
		}
		if cr.State != StateCancelled { // the ack came up the event stream meanwhile
			return cr, nil
		}
		s.log.Info("ride not started", "ride", r.ID, "vehicle", r.Vehicle, "reason", reason, "err", err)
		return Ride{}, err
	}
	return s.activate(context.WithoutCancel(ctx), r.ID, s.cfg.Now())
}

// reserve checks the rider and the vehicle and inserts the 'starting' ride.
func (s *Service) reserve(ctx context.Context, riderID, number string) (Ride, error) {
	if !validUUID(riderID) {
		return Ride{}, ErrRiderNotFound
	}
	now := s.cfg.Now()
	tx, err := s.cfg.Pool.Begin(ctx)
	if err != nil {
		return Ride{}, fmt.Errorf("rides: reserve: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op

	var status string
	// The rider row's lock serialises this rider's reservations (one open ride per rider) and
	// a concurrent suspension.
	err = tx.QueryRow(ctx, `SELECT status FROM riders WHERE id = $1 FOR NO KEY UPDATE`, riderID).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) || status == "deleted" {
		return Ride{}, ErrRiderNotFound
	}
	if err != nil {
		return Ride{}, fmt.Errorf("rides: reserve: rider: %w", err)
	}
	if status != "active" {
		return Ride{}, ErrRiderSuspended
	}
	var open bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rides WHERE rider_id = $1
		AND state IN ('starting', 'active', 'paused'))`, riderID).Scan(&open); err != nil {
		return Ride{}, fmt.Errorf("rides: reserve: open rides: %w", err)
	}
	if open {
		return Ride{}, ErrRideInProgress
	}
	// The vehicle row's lock makes the reservation atomic (a racing rider waits here, then
	// reads the committed status); the city's tariff in force comes in the same round trip.
	var (
		vehicleID, cityID int64
		vstatus, city     string
		tariffID, minimum *int64
		currency          *string
	)
	err = tx.QueryRow(ctx, `SELECT v.id, v.status, v.city_id, c.code, t.id, t.currency, t.minimum_balance_minor
		FROM vehicles v JOIN cities c ON c.id = v.city_id
		LEFT JOIN tariffs t ON t.city_id = v.city_id AND t.effective_from <= $2 AND (t.effective_to IS NULL OR t.effective_to > $2)
		WHERE v.number = $1 FOR UPDATE OF v`, number, now).Scan(&vehicleID, &vstatus, &cityID, &city, &tariffID, &currency, &minimum)
	if errors.Is(err, pgx.ErrNoRows) {
		return Ride{}, ErrVehicleNotFound
	}
	if err != nil {
		return Ride{}, fmt.Errorf("rides: reserve: vehicle: %w", err)
	}
	if vstatus != "available" {
		return Ride{}, fmt.Errorf("%w: %s", ErrVehicleUnavailable, vstatus)
	}
	if tariffID == nil || currency == nil || minimum == nil {
		return Ride{}, ErrNoTariff
	}
	tariff := tariffRow{ID: *tariffID, Currency: *currency, MinimumBalance: *minimum}
	bal, err := ledger.RiderBalance(ctx, tx, riderID, tariff.Currency)
	if err != nil {
		return Ride{}, fmt.Errorf("rides: reserve: %w", err)
	}
	if bal < tariff.MinimumBalance {
		return Ride{}, fmt.Errorf("%w: balance %s, minimum %s", ErrInsufficientBalance,
			Money(bal, tariff.Currency), Money(tariff.MinimumBalance, tariff.Currency))
	}
	live, ok := s.cfg.Live.Get(linkCity(city), number)
	if !ok || !online(&live, &s.cfg, now) || !hasPosition(&live) {
		return Ride{}, ErrVehicleOffline
	}
	if live.BatteryAt.IsZero() || live.BatteryPct < s.cfg.MinStartBatteryPct {
		return Ride{}, fmt.Errorf("%w: %d%%, minimum %d%%", ErrBatteryLow, live.BatteryPct, s.cfg.MinStartBatteryPct)
	}
	cz, err := s.zones.current(ctx, tx, cityID)
	if errors.Is(err, ErrNoZones) {
		return Ride{}, fmt.Errorf("%w: %w", ErrOutsideArea, err)
	}
	if err != nil {
		return Ride{}, err
	}
	pl := cz.evaluate(live.Position.Lat, live.Position.Lon, s.cfg.VehicleType, now)
	switch {
	case !pl.inArea:
		return Ride{}, ErrOutsideArea
	case !pl.startAllowed:
		return Ride{}, fmt.Errorf("%w: %s", ErrStartNotAllowed, pl.zoneName)
	}
	r := Ride{RiderID: riderID, VehicleID: vehicleID, Vehicle: number, CityID: cityID, City: city, TariffID: tariff.ID,
		State: StateStarting, StartedAt: now, StartLat: live.Position.Lat, StartLon: live.Position.Lon, Currency: tariff.Currency}
	err = tx.QueryRow(ctx, `WITH ins AS (
			INSERT INTO rides (rider_id, vehicle_id, city_id, tariff_id, state, started_at, start_lat, start_lon, currency)
			VALUES ($1, $2, $3, $4, 'starting', $5, $6, $7, $8) RETURNING id, created_at),
		veh AS (UPDATE vehicles SET status = 'reserved', updated_at = now() WHERE id = $2)
		SELECT id::text, created_at FROM ins`,
		riderID, vehicleID, cityID, tariff.ID, now, r.StartLat, r.StartLon, tariff.Currency).Scan(&r.ID, &r.CreatedAt)
	if isUniqueViolation(err, "rides_one_open_per_vehicle") {
		return Ride{}, fmt.Errorf("%w: reserved concurrently", ErrVehicleUnavailable)
	}
	if err != nil {
		return Ride{}, fmt.Errorf("rides: reserve: insert: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Ride{}, fmt.Errorf("rides: reserve: commit: %w", err)
	}
	return r, nil
}

// activate starts a 'starting' ride at `at` (the ack's time). It is idempotent: a ride
// already active (the event stream was first) is returned as is. A ride whose rider was
// suspended meanwhile, or that the sweeper cancelled, is not started and its scooter gets a
// power-off.
func (s *Service) activate(ctx context.Context, id string, at time.Time) (Ride, error) {
	tx, err := s.cfg.Pool.Begin(ctx)
	if err != nil {
		return Ride{}, fmt.Errorf("rides: activate: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	r, err := loadRide(ctx, tx, id, true)
	if err != nil {
		return Ride{}, err
	}
	switch r.State {
	case StateActive, StatePaused, StateEnded:
		return r, nil
	case StateCancelled:
		s.abort(ctx, r, "cancelled before the ack")
		return Ride{}, fmt.Errorf("%w: the reservation expired before the vehicle answered", ErrVehicleNotResponding)
	}
	var riderStatus string
	if err := tx.QueryRow(ctx, `SELECT status FROM riders WHERE id = $1`, r.RiderID).Scan(&riderStatus); err != nil {
		return Ride{}, fmt.Errorf("rides: activate: rider: %w", err)
	}
	if riderStatus != "active" {
		if err := tx.Rollback(ctx); err != nil {
			return Ride{}, fmt.Errorf("rides: activate: %w", err)
		}
		if _, err := s.cancel(ctx, id, "rider_suspended"); err != nil {
			return Ride{}, err
		}
		s.abort(ctx, r, "rider suspended before the ack")
		return Ride{}, ErrRiderSuspended
	}
	if at.Before(r.StartedAt) {
		at = r.StartedAt
	}
	if _, err := tx.Exec(ctx, `WITH ride AS (UPDATE rides SET state = 'active', started_at = $2, updated_at = now() WHERE id = $1)
		UPDATE vehicles SET status = 'in_ride', updated_at = now() WHERE id = $3 AND status = 'reserved'`, id, at, r.VehicleID); err != nil {
		return Ride{}, fmt.Errorf("rides: activate: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Ride{}, fmt.Errorf("rides: activate: commit: %w", err)
	}
	r.State, r.StartedAt = StateActive, at
	return r, nil
}

// cancel cancels a 'starting' ride and releases its vehicle; a ride in another state is
// returned unchanged.
func (s *Service) cancel(ctx context.Context, id, reason string) (Ride, error) {
	tx, err := s.cfg.Pool.Begin(ctx)
	if err != nil {
		return Ride{}, fmt.Errorf("rides: cancel: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	r, err := loadRide(ctx, tx, id, true)
	if err != nil {
		return Ride{}, err
	}
	if r.State != StateStarting {
		return r, nil
	}
	now := s.cfg.Now()
	if now.Before(r.StartedAt) {
		now = r.StartedAt
	}
	if _, err := tx.Exec(ctx, `UPDATE rides SET state = 'cancelled', ended_at = $2, cancel_reason = $3, updated_at = now()
		WHERE id = $1`, id, now, reason); err != nil {
		return Ride{}, fmt.Errorf("rides: cancel: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE vehicles SET status = 'available', updated_at = now() WHERE id = $1 AND status = 'reserved'`, r.VehicleID); err != nil {
		return Ride{}, fmt.Errorf("rides: cancel: vehicle: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Ride{}, fmt.Errorf("rides: cancel: commit: %w", err)
	}
	r.State, r.EndedAt, r.CancelReason = StateCancelled, now, reason
	return r, nil
}

// abort powers off, in the background, a scooter that was unlocked for a ride that did not
// start. Best effort: a failure is logged (the vehicle then shows powered on without a ride).
func (s *Service) abort(ctx context.Context, r Ride, why string) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		err := s.command(context.WithoutCancel(ctx), r, 3, "abort", s.cfg.CommandTimeout)
		s.log.Warn("power-off of a vehicle unlocked without a ride", "ride", r.ID, "vehicle", r.Vehicle, "why", why, "err", err)
	}()
}

// SweepStale cancels reservations left 'starting' longer than StaleStartingAfter.
func (s *Service) SweepStale(ctx context.Context) (int, error) {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT id::text FROM rides WHERE state = 'starting' AND created_at < $1`,
		s.cfg.Now().Add(-s.cfg.StaleStartingAfter))
	if err != nil {
		return 0, fmt.Errorf("rides: sweep: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("rides: sweep: %w", err)
	}
	n := 0
	for _, id := range ids {
		r, err := s.cancel(ctx, id, "stale")
		if err != nil {
			return n, err
		}
		if r.State == StateCancelled {
			n++
		}
	}
	return n, nil
}

// Get returns one of a rider's rides.
func (s *Service) Get(ctx context.Context, riderID, rideID string) (Ride, error) {
	r, err := loadRide(ctx, s.cfg.Pool, rideID, false)
	if err != nil {
		return Ride{}, err
	}
	if r.RiderID != riderID {
		return Ride{}, ErrRideNotFound
	}
	return r, nil
}

// Pause pauses an active ride (73) and records the pause on the scooter's ack.
func (s *Service) Pause(ctx context.Context, riderID, rideID string) (Ride, error) {
	unlock := s.lock(rideID)
	defer unlock()
	r, err := s.Get(ctx, riderID, rideID)
	if err != nil {
		return Ride{}, err
	}
	if r.State != StateActive {
		return Ride{}, fmt.Errorf("%w: the ride is %s, not active", ErrRideState, r.State)
	}
	ps, err := loadPauses(ctx, s.cfg.Pool, rideID)
	if err != nil {
		return Ride{}, err
	}
	n := len(ps) + 1
	if err := s.command(ctx, r, 73, fmt.Sprintf("pause:%d", n), s.cfg.CommandTimeout); err != nil {
		return Ride{}, err
	}
	return s.recordPause(context.WithoutCancel(ctx), rideID, s.cfg.Now())
}

// recordPause opens a pause at `at` if the ride is active (idempotent otherwise).
func (s *Service) recordPause(ctx context.Context, rideID string, at time.Time) (Ride, error) {
	return s.inTx(ctx, rideID, func(tx pgx.Tx, r Ride) error {
		if r.State != StateActive {
			return nil
		}
		if at.Before(r.StartedAt) {
			at = r.StartedAt
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ride_pauses (ride_id, n, started_at)
			SELECT $1, coalesce(max(n), 0) + 1, $2 FROM ride_pauses WHERE ride_id = $1`, rideID, at); err != nil {
			return fmt.Errorf("rides: pause: %w", err)
		}
		_, err := tx.Exec(ctx, `UPDATE rides SET state = 'paused', updated_at = now() WHERE id = $1`, rideID)
		return err
	})
}

// Resume resumes a paused ride (75) and closes the pause on the scooter's ack.
func (s *Service) Resume(ctx context.Context, riderID, rideID string) (Ride, error) {
	unlock := s.lock(rideID)
	defer unlock()
	r, err := s.Get(ctx, riderID, rideID)
	if err != nil {
		return Ride{}, err
	}
	if r.State != StatePaused {
		return Ride{}, fmt.Errorf("%w: the ride is %s, not paused", ErrRideState, r.State)
	}
	ps, err := loadPauses(ctx, s.cfg.Pool, rideID)
	if err != nil {
		return Ride{}, err
	}
	if err := s.command(ctx, r, 75, fmt.Sprintf("resume:%d", len(ps)), s.cfg.CommandTimeout); err != nil {
		return Ride{}, err
	}
	return s.recordResume(context.WithoutCancel(ctx), rideID, s.cfg.Now())
}

// recordResume closes the open pause at `at` if the ride is paused (idempotent otherwise).
func (s *Service) recordResume(ctx context.Context, rideID string, at time.Time) (Ride, error) {
	return s.inTx(ctx, rideID, func(tx pgx.Tx, r Ride) error {
		if r.State != StatePaused {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE ride_pauses SET ended_at = greatest(started_at, $2)
			WHERE ride_id = $1 AND ended_at IS NULL`, rideID, at); err != nil {
			return fmt.Errorf("rides: resume: %w", err)
		}
		_, err := tx.Exec(ctx, `UPDATE rides SET state = 'active', updated_at = now() WHERE id = $1`, rideID)
		return err
	})
}

// inTx runs fn on the locked ride and returns the ride as committed.
func (s *Service) inTx(ctx context.Context, rideID string, fn func(tx pgx.Tx, r Ride) error) (Ride, error) {
	tx, err := s.cfg.Pool.Begin(ctx)
	if err != nil {
		return Ride{}, fmt.Errorf("rides: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	r, err := loadRide(ctx, tx, rideID, true)
	if err != nil {
		return Ride{}, err
	}
	if err := fn(tx, r); err != nil {
		return Ride{}, err
	}
	r, err = loadRide(ctx, tx, rideID, false)
	if err != nil {
		return Ride{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Ride{}, fmt.Errorf("rides: commit: %w", err)
	}
	return r, nil
}

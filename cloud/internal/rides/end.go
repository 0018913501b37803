package rides

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/fare"
	"github.com/fleetedge/fleetedge/cloud/internal/ledger"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// End ends a rider's active or paused ride: where ride_end_allowed is false it is refused
// (an *EndRefusedError naming the nearest allowed area) unless acceptFine, then the scooter
// is powered off (3) and, on its ack, the ride is ended and charged in one transaction. When
// the scooter does not confirm, the ride goes on (the rider may retry).
func (s *Service) End(ctx context.Context, riderID, rideID string, acceptFine bool) (Ride, error) {
	unlock := s.lock(rideID)
	defer unlock()
	r, err := s.Get(ctx, riderID, rideID)
	if err != nil {
		return Ride{}, err
	}
	if r.State != StateActive && r.State != StatePaused {
		return Ride{}, fmt.Errorf("%w: the ride is %s", ErrRideState, r.State)
	}
	now := s.cfg.Now()
	lat, lon := s.position(r)
	fine := false
	cz, err := s.zones.current(ctx, s.cfg.Pool, r.CityID)
	switch {
	case errors.Is(err, ErrNoZones): // nothing to judge the place by: no fine
	case err != nil:
		return Ride{}, err
	default:
		pl := cz.evaluate(lat, lon, s.cfg.VehicleType, now)
		if !pl.inArea || !pl.endAllowed {
			fine = true
			if !acceptFine {
				t, err := tariffByID(ctx, s.cfg.Pool, r.TariffID)
				if err != nil {
					return Ride{}, err
				}
				e := cz.endRefusal(pl, lat, lon, s.cfg.VehicleType, now)
				e.FineMinor, e.Currency = t.Fine, t.Currency
				return Ride{}, e
			}
		}
	}
	s.ending.Store(r.ID, struct{}{})
	defer s.ending.Delete(r.ID)
	if err := s.command(ctx, r, 3, "end", s.cfg.CommandTimeout); err != nil {
		return Ride{}, err
	}
	return s.finalize(context.WithoutCancel(ctx), rideID, endFacts{
		At: s.cfg.Now(), Lat: lat, Lon: lon, Reason: "rider", Fine: fine, FineAccepted: fine && acceptFine})
}

// position is the vehicle's latest known position, else the ride's start.
func (s *Service) position(r Ride) (lat, lon float64) {
	if v, ok := s.cfg.Live.Get(linkCity(r.City), r.Vehicle); ok && hasPosition(&v) {
		return v.Position.Lat, v.Position.Lon
	}
	return r.StartLat, r.StartLon
}

// endFacts is how a ride ended.
type endFacts struct {
	At           time.Time
	Lat, Lon     float64
	Reason       string // rider, suspension, or the gateway's ended_by
	Fine         bool   // the out-of-zone fine applies
	FineAccepted bool   // the rider confirmed it
	Unconfirmed  bool   // the scooter did not confirm the power-off: flag the vehicle
}

// StoredBreakdown is the fare breakdown as stored in rides.fare_breakdown.
type StoredBreakdown struct {
	Currency     string       `json:"currency"`
	RideMinutes  int          `json:"ride_minutes"`
	PauseMinutes int          `json:"pause_minutes"`
	DistanceM    int64        `json:"distance_m"`
	Lines        []StoredLine `json:"lines"`
	TotalMinor   int64        `json:"total_minor"`
	// RoutePoints and DroppedFixes describe the route rebuild.
	RoutePoints  int `json:"route_points"`
	DroppedFixes int `json:"dropped_fixes"`
}

// StoredLine is one receipt line.
type StoredLine struct {
	Code        string `json:"code"`
	Description string `json:"description"`
	AmountMinor int64  `json:"amount_minor"`
}

// finalize ends an open ride at f.At and charges it, all in one transaction; a ride already
// ended is returned as is (exactly once under retries and redeliveries).
func (s *Service) finalize(ctx context.Context, rideID string, f endFacts) (Ride, error) {
	r, err := loadRide(ctx, s.cfg.Pool, rideID, false)
	if err != nil {
		return Ride{}, err
	}
	if r.State == StateEnded {
		return r, nil
	}
	if r.State == StateCancelled {
		return Ride{}, fmt.Errorf("%w: the ride was cancelled", ErrRideState)
	}
	if f.At.Before(r.StartedAt) {
		f.At = r.StartedAt
	}
	fixes := s.fixes(ctx, r, f.At)
	tariff, err := tariffByID(ctx, s.cfg.Pool, r.TariffID)
	if err != nil {
		return Ride{}, err
	}
	cz, zerr := s.zones.current(ctx, s.cfg.Pool, r.CityID)
	if zerr != nil && !errors.Is(zerr, ErrNoZones) {
		return Ride{}, zerr
	}

	tx, err := s.cfg.Pool.Begin(ctx)
	if err != nil {
		return Ride{}, fmt.Errorf("rides: end: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	locked, err := loadRide(ctx, tx, rideID, true)
	if err != nil {
		return Ride{}, err
	}
	if locked.State == StateEnded {
		return locked, nil
	}
	if locked.State == StateCancelled {
		return Ride{}, fmt.Errorf("%w: the ride was cancelled", ErrRideState)
	}
	r = locked
	if f.At.Before(r.StartedAt) {
		f.At = r.StartedAt
	}
	pauses, err := loadPauses(ctx, tx, rideID)
	if err != nil {
		return Ride{}, err
	}
	bd, route, err := computeFare(tariff, r, pauses, fixes, f, cz.set)
	if err != nil {
		return Ride{}, fmt.Errorf("rides: end: fare: %w", err)
	}
	bdJSON, err := json.Marshal(bd)
	if err != nil {
		return Ride{}, fmt.Errorf("rides: end: %w", err)
	}
	reason := f.Reason
	if reason == "" || len(reason) > 32 {
		reason = "gateway"
	}
	if _, err := tx.Exec(ctx, `UPDATE rides SET state = 'ended', ended_at = $2, end_lat = $3, end_lon = $4,
		distance_m = $5, route = $6, fare_breakdown = $7, fare_total_minor = $8, end_reason = $9,
		fine_accepted = $10, end_unconfirmed = $11, updated_at = now() WHERE id = $1`,
		rideID, f.At, f.Lat, f.Lon, bd.DistanceM, []byte(route.GeoJSON()), bdJSON, bd.TotalMinor, reason,
		f.FineAccepted, f.Unconfirmed); err != nil {
		return Ride{}, fmt.Errorf("rides: end: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE ride_pauses SET ended_at = greatest(started_at, $2) WHERE ride_id = $1 AND ended_at IS NULL`,
		rideID, f.At); err != nil {
		return Ride{}, fmt.Errorf("rides: end: pauses: %w", err)
	}
	if err := charge(ctx, tx, r, bd, f.At); err != nil {
		if errors.Is(err, ledger.ErrAlreadyPosted) { // ended concurrently elsewhere
			return loadRide(ctx, s.cfg.Pool, rideID, false)
		}
		return Ride{}, err
	}
	// A vehicle that did not confirm its power-off may still be unlocked: out of service
	// until someone checks it.
	if _, err := tx.Exec(ctx, `UPDATE vehicles SET status = CASE WHEN $2 THEN 'maintenance' ELSE 'available' END,
		updated_at = now() WHERE id = $1 AND status IN ('reserved', 'in_ride')`, r.VehicleID, f.Unconfirmed); err != nil {
		return Ride{}, fmt.Errorf("rides: end: vehicle: %w", err)
	}
	r, err = loadRide(ctx, tx, rideID, false)
	if err != nil {
		return Ride{}, err
	}
	if err := ledger.Commit(ctx, tx); err != nil {
		return Ride{}, fmt.Errorf("rides: end: %w", err)
	}
	s.met.ends.WithLabelValues(reason).Inc()
	s.log.Info("ride ended", "ride", rideID, "vehicle", r.Vehicle, "reason", reason, "fare", bd.TotalMinor,
		"currency", bd.Currency, "unconfirmed", f.Unconfirmed)
	return r, nil
}

// fixes reads the ride's GPS fixes from ClickHouse; without ClickHouse (or on an error, logged)
// the route is the start and end positions only.
func (s *Service) fixes(ctx context.Context, r Ride, end time.Time) []chstore.RoutePoint {
	fs := s.cfg.Fixes()
	if fs == nil {
		return nil
	}
	w := chstore.Window{From: r.StartedAt, To: end.Add(time.Second)}
	pts, err := fs.Route(ctx, r.City, r.Vehicle, w)
	// The vehicle's last records before the end are in the live state a moment before they
	// are in ClickHouse (the ingest writes after folding): wait for them, bounded.
	deadline := time.Now().Add(s.cfg.FixSettle)
	for err == nil && !s.fixesCaughtUp(r, end, pts) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			err = ctx.Err()
			continue
		case <-time.After(100 * time.Millisecond):
		}
		pts, err = fs.Route(ctx, r.City, r.Vehicle, w)
	}
	if err != nil {
		s.log.Warn("ride fixes unavailable: route from start and end only", "ride", r.ID, "err", err)
		return nil
	}
	return pts
}

// fixesCaughtUp reports whether pts (the ride's telemetry in ClickHouse, by time) reach the
// newest telemetry record the live state has seen from the vehicle up to end.
func (s *Service) fixesCaughtUp(r Ride, end time.Time, pts []chstore.RoutePoint) bool {
	v, ok := s.cfg.Live.Get(linkCity(r.City), r.Vehicle)
	if !ok {
		return true
	}
	var newest time.Time
	for _, t := range []time.Time{v.PositionAt, v.SpeedAt, v.BatteryAt, v.VoltageAt, v.SignalAt, v.StatusAt} {
		if t.After(newest) {
			newest = t
		}
	}
	if newest.IsZero() || newest.Before(r.StartedAt) || newest.After(end.Add(time.Second)) {
		// Nothing of the ride seen, or the vehicle has reported well past the end (a late
		// ride_ended event): the records up to the end were ingested long ago.
		return true
	}
	return len(pts) > 0 && !pts[len(pts)-1].Time.Before(newest)
}

// computeFare rebuilds the route (start position, the fixes, end position) and prices it.
func computeFare(t tariffRow, r Ride, pauses []Pause, pts []chstore.RoutePoint, f endFacts, set *zone.Set) (StoredBreakdown, fare.Route, error) {
	fixes := make([]fare.Fix, 0, len(pts)+2)
	fixes = append(fixes, fare.Fix{Time: r.StartedAt, Lat: r.StartLat, Lon: r.StartLon})
	for _, p := range pts {
		if p.Lat == 0 && p.Lon == 0 || p.Time.Before(r.StartedAt) || !p.Time.Before(f.At) {
			continue
		}
		fixes = append(fixes, fare.Fix{Time: p.Time, Lat: p.Lat, Lon: p.Lon})
	}
	fixes = append(fixes, fare.Fix{Time: f.At, Lat: f.Lat, Lon: f.Lon})
	route := fare.Rebuild(fixes, fare.RouteOptions{})
	iv := make([]fare.Interval, 0, len(pauses))
	for _, p := range pauses {
		to := p.To
		if to.IsZero() || to.After(f.At) {
			to = f.At
		}
		iv = append(iv, fare.Interval{From: p.From, To: to})
	}
	ft := fare.Tariff{Currency: t.Currency, UnlockFee: t.UnlockFee, PerMinute: t.PerMinute, PerKm: t.PerKm,
		PausePerMinute: t.PausePerMinute, OutOfZoneFine: t.Fine}
	ids := make([]string, 0, len(t.Surcharges))
	for _, sc := range t.Surcharges {
		ft.Surcharges = append(ft.Surcharges, fare.Surcharge{ZoneID: sc.Zone, PerMinute: sc.PerMinute, Fixed: sc.Fixed})
		ids = append(ids, sc.Zone)
	}
	ride := fare.Ride{Start: r.StartedAt, End: f.At, Pauses: iv, Route: route, OutOfZoneEnd: f.Fine}
	if set != nil {
		ride.ZoneMinutes = fare.ZoneMinutes(route, set, ids, iv)
		ride.StartZones = fare.ZonesAt(set, r.StartLat, r.StartLon, r.StartedAt)
		ride.EndZones = fare.ZonesAt(set, f.Lat, f.Lon, f.At)
	}
	b, err := fare.Compute(ft, ride)
	if err != nil {
		return StoredBreakdown{}, route, err
	}
	sb := StoredBreakdown{Currency: b.Currency, RideMinutes: b.RideMinutes, PauseMinutes: b.PauseMinutes,
		DistanceM: b.DistanceM, TotalMinor: b.Total, RoutePoints: len(route.Points), DroppedFixes: route.Dropped,
		Lines: make([]StoredLine, 0, len(b.Lines))}
	for _, l := range b.Lines {
		sb.Lines = append(sb.Lines, StoredLine{Code: l.Code, Description: l.Description, AmountMinor: l.Amount})
	}
	return sb, route, nil
}

// charge posts the ride charge: rider −total, revenue +(total − fine), fines +fine.
func charge(ctx context.Context, tx pgx.Tx, r Ride, b StoredBreakdown, at time.Time) error {
	if b.TotalMinor == 0 {
		return nil
	}
	var fine int64
	for _, l := range b.Lines {
		if l.Code == fare.LineFine {
			fine += l.AmountMinor
		}
	}
	rider, err := ledger.RiderAccount(ctx, tx, r.RiderID, b.Currency)
	if err != nil {
		return fmt.Errorf("rides: charge: %w", err)
	}
	lines := []ledger.Line{{Account: rider, Amount: -b.TotalMinor}}
	if rev := b.TotalMinor - fine; rev != 0 {
		acct, err := ledger.SystemAccount(ctx, tx, ledger.RevenueAccount, b.Currency)
		if err != nil {
			return fmt.Errorf("rides: charge: %w", err)
		}
		lines = append(lines, ledger.Line{Account: acct, Amount: rev})
	}
	if fine != 0 {
		acct, err := ledger.SystemAccount(ctx, tx, ledger.FinesAccount, b.Currency)
		if err != nil {
			return fmt.Errorf("rides: charge: %w", err)
		}
		lines = append(lines, ledger.Line{Account: acct, Amount: fine})
	}
	if _, err := ledger.Post(ctx, tx, ledger.Transaction{Kind: ledger.RideCharge, Currency: b.Currency, RideID: r.ID,
		Description: "ride " + r.ID + " on " + r.Vehicle, OccurredAt: at, Lines: lines}); err != nil {
		return fmt.Errorf("rides: charge: %w", err)
	}
	return nil
}

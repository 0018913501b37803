package rides

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// HandleEvents is the cloud's event hook (cloudsvc Area.OnEvents): it applies the ride events
// of a stored batch from city's gateway gw. It is idempotent (batches are redelivered): every
// transition is conditional on the ride's state. Events naming an unknown ride, a ride of
// another vehicle or city, or a malformed id are logged and skipped; an error (the database)
// naks the batch so it comes again.
func (s *Service) HandleEvents(ctx context.Context, city link.CityID, gw link.GatewayID, events []link.Event) error {
	for i := range events {
		e := &events[i]
		if e.Ride == nil {
			continue
		}
		switch e.Kind {
		case link.EventRideStarted, link.EventRideEnded, link.EventRidePaused, link.EventRideResumed:
		default:
			continue
		}
		if err := s.handleEvent(ctx, city, gw, e); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) handleEvent(ctx context.Context, city link.CityID, gw link.GatewayID, e *link.Event) error {
	log := s.log.With("gateway", gw, "seq", e.Seq, "kind", e.Kind, "ride", e.Ride.RideID)
	r, err := loadRide(ctx, s.cfg.Pool, e.Ride.RideID, false)
	if errors.Is(err, ErrRideNotFound) {
		log.Warn("ride event for an unknown ride skipped")
		return nil
	}
	if err != nil {
		return err
	}
	if r.City != string(city) || r.Vehicle != e.Vehicle {
		log.Warn("ride event does not match the ride's vehicle or city: skipped", "vehicle", e.Vehicle, "city", city)
		return nil
	}
	// No per-ride lock here: an API call holds it while it waits for the scooter, and the
	// hook must not stall the ingest. Every transition below is conditional on the locked row.
	switch e.Kind {
	case link.EventRideStarted:
		switch r.State {
		case StateStarting:
			_, err := s.activate(ctx, r.ID, e.Time)
			if errors.Is(err, ErrRiderSuspended) || errors.Is(err, ErrVehicleNotResponding) {
				return nil // not started: activate powers the scooter off
			}
			return err
		case StateCancelled:
			// The rider was told there is no ride: none starts, nothing is charged, and the
			// scooter that did power on is powered off again.
			if r.CancelReason != "aborted" {
				s.abort(ctx, r, "ride_started after the reservation was cancelled")
				if _, err := s.cfg.Pool.Exec(ctx, `UPDATE rides SET cancel_reason = 'aborted', updated_at = now()
					WHERE id = $1 AND state = 'cancelled'`, r.ID); err != nil {
					return fmt.Errorf("rides: event: %w", err)
				}
			}
		}
	case link.EventRidePaused, link.EventRideResumed:
		// The k-th pause (resume) event of a ride is its pause number k: the API records the
		// pause it commanded under the same number, so an event for a pause the API already
		// recorded (or one arriving after the resume) changes nothing.
		k, err := s.eventOrdinal(ctx, city, gw, e)
		if err != nil {
			return err
		}
		_, err = s.recordEventPause(ctx, r.ID, k, e.Kind == link.EventRidePaused, e.Time)
		return err
	case link.EventRideEnded:
		if !r.Open() {
			return nil // ended by the API (or a redelivery): already billed
		}
		if _, busy := s.ending.Load(r.ID); busy && e.Ride.EndedBy == "cloud" {
			// The power-off this process sent: its end is charging the ride now.
			return nil
		}
		if r.State == StateStarting {
			// Ended before the cloud saw it start: it did start (the gateway tracked it).
			if _, err := s.activate(ctx, r.ID, r.StartedAt); err != nil {
				if errors.Is(err, ErrRiderSuspended) || errors.Is(err, ErrVehicleNotResponding) {
					return nil
				}
				return err
			}
		}
		lat, lon := s.position(r)
		if p := e.Ride.Position; p != nil && !(p.Lat == 0 && p.Lon == 0) && validLatLon(p.Lat, p.Lon) {
			lat, lon = p.Lat, p.Lon
		}
		fine := false
		if cz, err := s.zones.current(ctx, s.cfg.Pool, r.CityID); err == nil {
			pl := cz.evaluate(lat, lon, s.cfg.VehicleType, e.Time)
			fine = !pl.inArea || !pl.endAllowed
		} else if !errors.Is(err, ErrNoZones) {
			return err
		}
		reason := strings.TrimSpace(e.Ride.EndedBy)
		if reason == "" {
			reason = "gateway"
		}
		_, err := s.finalize(ctx, r.ID, endFacts{At: e.Time, Lat: lat, Lon: lon, Reason: reason, Fine: fine})
		if errors.Is(err, ErrRideState) {
			return nil
		}
		return err
	}
	return nil
}

func validLatLon(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

// eventOrdinal is the position of e among the ride's events of its kind stored in
// vehicle_events (the ingest stores a batch before the hooks run); 0 when it is not stored
// (a hook called on its own).
func (s *Service) eventOrdinal(ctx context.Context, city link.CityID, gw link.GatewayID, e *link.Event) (int, error) {
	var k int
	err := s.cfg.Pool.QueryRow(ctx, `SELECT count(*) FROM vehicle_events WHERE city = $1 AND vehicle = $2 AND kind = $3
		AND payload->>'ride_id' = $4 AND (at < $5 OR (at = $5 AND gateway = $6 AND seq <= $7))`,
		string(city), e.Vehicle, string(e.Kind), e.Ride.RideID, e.Time, string(gw), int64(e.Seq)).Scan(&k)
	if err != nil {
		return 0, fmt.Errorf("rides: event ordinal: %w", err)
	}
	return k, nil
}

// recordEventPause applies the k-th pause (paused) or resume (!paused) event of a ride at
// `at`; k = 0 means "the next one". Idempotent.
func (s *Service) recordEventPause(ctx context.Context, rideID string, k int, paused bool, at time.Time) (Ride, error) {
	return s.inTx(ctx, rideID, func(tx pgx.Tx, r Ride) error {
		ps, err := loadPauses(ctx, tx, rideID)
		if err != nil {
			return err
		}
		if paused {
			if k == 0 {
				k = len(ps) + 1
			}
			if r.State != StateActive || k != len(ps)+1 {
				return nil // recorded already, or out of step: nothing to add
			}
			if at.Before(r.StartedAt) {
				at = r.StartedAt
			}
			if _, err := tx.Exec(ctx, `INSERT INTO ride_pauses (ride_id, n, started_at) VALUES ($1, $2, $3)`, rideID, k, at); err != nil {
				return fmt.Errorf("rides: pause event: %w", err)
			}
			_, err := tx.Exec(ctx, `UPDATE rides SET state = 'paused', updated_at = now() WHERE id = $1`, rideID)
			return err
		}
		if k == 0 {
			k = len(ps)
		}
		if r.State != StatePaused || k < 1 || k > len(ps) || !ps[k-1].To.IsZero() {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE ride_pauses SET ended_at = greatest(started_at, $3) WHERE ride_id = $1 AND n = $2`,
			rideID, k, at); err != nil {
			return fmt.Errorf("rides: resume event: %w", err)
		}
		_, err = tx.Exec(ctx, `UPDATE rides SET state = 'active', updated_at = now() WHERE id = $1`, rideID)
		return err
	})
}

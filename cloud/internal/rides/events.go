package rides

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	case link.EventRidePaused:
		if r.State == StateActive {
			_, err := s.recordPause(ctx, r.ID, e.Time)
			return err
		}
	case link.EventRideResumed:
		if r.State == StatePaused {
			_, err := s.recordResume(ctx, r.ID, e.Time)
			return err
		}
	case link.EventRideEnded:
		if !r.Open() {
			return nil // ended by the API (or a redelivery): already billed
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

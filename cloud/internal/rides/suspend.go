package rides

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/audit"
)

// RiderStatus is a rider's account status after a suspension or reactivation.
type RiderStatus struct {
	RiderID string
	Status  string // active or suspended
	// Ended lists the rides the suspension ended.
	Ended []Ride
}

// Suspend suspends a rider (audited in the same transaction, refresh tokens revoked), which
// blocks new rides, then ends the rider's open rides: each scooter is powered off through its
// gateway and the ride billed normally (no out-of-zone fine: the rider did not choose where);
// a scooter that does not confirm gets its ride ended and billed at the last known position,
// and the vehicle is flagged (status maintenance, ride end_unconfirmed). A reservation still
// starting is cancelled. Suspending a suspended rider only ends rides still open.
func (s *Service) Suspend(ctx context.Context, actor audit.Actor, riderID string) (RiderStatus, error) {
	open, err := s.setStatus(ctx, actor, riderID, "suspended")
	if err != nil {
		return RiderStatus{}, err
	}
	out := RiderStatus{RiderID: riderID, Status: "suspended"}
	var errs []error
	for _, id := range open {
		r, err := s.endForSuspension(context.WithoutCancel(ctx), id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.State == StateEnded {
			out.Ended = append(out.Ended, r)
		}
	}
	return out, errors.Join(errs...)
}

// Reactivate lifts a suspension (audited); an active rider is left as is.
func (s *Service) Reactivate(ctx context.Context, actor audit.Actor, riderID string) (RiderStatus, error) {
	if _, err := s.setStatus(ctx, actor, riderID, "active"); err != nil {
		return RiderStatus{}, err
	}
	return RiderStatus{RiderID: riderID, Status: "active"}, nil
}

// setStatus changes the rider's status with its audit entry, and returns the rider's open
// rides (read under the rider's lock, so no new one can start in between).
func (s *Service) setStatus(ctx context.Context, actor audit.Actor, riderID, to string) ([]string, error) {
	if !validUUID(riderID) {
		return nil, ErrRiderNotFound
	}
	tx, err := s.cfg.Pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("rides: rider status: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var from string
	err = tx.QueryRow(ctx, `SELECT status FROM riders WHERE id = $1 FOR UPDATE`, riderID).Scan(&from)
	if errors.Is(err, pgx.ErrNoRows) || from == "deleted" {
		return nil, ErrRiderNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("rides: rider status: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT id::text FROM rides WHERE rider_id = $1 AND state IN ('starting', 'active', 'paused')
		ORDER BY created_at`, riderID)
	if err != nil {
		return nil, fmt.Errorf("rides: rider status: %w", err)
	}
	open, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("rides: rider status: %w", err)
	}
	if from == to {
		return open, nil // nothing to change, nothing to audit
	}
	if _, err := tx.Exec(ctx, `UPDATE riders SET status = $2, updated_at = now() WHERE id = $1`, riderID, to); err != nil {
		return nil, fmt.Errorf("rides: rider status: %w", err)
	}
	action := "rider.reactivate"
	details := map[string]any{}
	if to == "suspended" {
		action = "rider.suspend"
		// A suspended rider cannot refresh: every session ends now.
		if _, err := tx.Exec(ctx, `UPDATE rider_sessions SET revoked_at = now() WHERE rider_id = $1 AND revoked_at IS NULL`, riderID); err != nil {
			return nil, fmt.Errorf("rides: rider status: sessions: %w", err)
		}
		details["open_rides"] = append([]string{}, open...)
	}
	if _, err := audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: action, TargetType: "rider", TargetID: riderID,
		Before: map[string]string{"status": from}, After: map[string]string{"status": to}, Details: details}); err != nil {
		return nil, fmt.Errorf("rides: rider status: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("rides: rider status: commit: %w", err)
	}
	s.log.Info("rider status changed", "rider", riderID, "from", from, "to", to, "admin", actor.AdminID, "open_rides", len(open))
	return open, nil
}

// endForSuspension ends one open ride of a suspended rider.
func (s *Service) endForSuspension(ctx context.Context, rideID string) (Ride, error) {
	unlock := s.lock(rideID)
	defer unlock()
	r, err := loadRide(ctx, s.cfg.Pool, rideID, false)
	if err != nil {
		return Ride{}, err
	}
	if r.State == StateStarting {
		// The power-on is in flight elsewhere (or its process died): the activation refuses
		// a suspended rider and powers the scooter off; cancel now in case nobody will. If
		// the activation won the race, the ride is active: end it below.
		if r, err = s.cancel(ctx, rideID, "rider_suspended"); err != nil {
			return Ride{}, err
		}
	}
	if r.State != StateActive && r.State != StatePaused {
		return r, nil
	}
	lat, lon := s.position(r)
	s.ending.Store(r.ID, struct{}{})
	defer s.ending.Delete(r.ID)
	cmdErr := s.command(ctx, r, 3, "end", s.cfg.CommandTimeout)
	if cmdErr != nil {
		s.log.Warn("suspension: vehicle did not confirm power-off; ride ended at its last known position and the vehicle flagged",
			"ride", r.ID, "vehicle", r.Vehicle, "err", cmdErr)
	}
	return s.finalize(ctx, rideID, endFacts{At: s.cfg.Now(), Lat: lat, Lon: lon, Reason: "suspension", Unconfirmed: cmdErr != nil})
}

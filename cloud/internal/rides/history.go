package rides

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// History limits.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// Page is one page of a rider's rides, newest first; Next is the cursor of the next page
// ("" at the end).
type Page struct {
	Rides []Ride
	Next  string
}

func encodeCursor(r Ride) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(r.StartedAt.UnixNano(), 10) + "," + r.ID))
}

func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 100 {
		return time.Time{}, "", fmt.Errorf("%w: cursor", ErrInvalidInput)
	}
	ns, id, ok := strings.Cut(string(b), ",")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || !validUUID(id) {
		return time.Time{}, "", fmt.Errorf("%w: cursor", ErrInvalidInput)
	}
	return time.Unix(0, n), id, nil
}

// History returns a rider's rides (not the cancelled reservations), newest first.
func (s *Service) History(ctx context.Context, riderID string, limit int, cursor string) (Page, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	args := []any{riderID, limit + 1}
	cond := ""
	if cursor != "" {
		t, id, err := decodeCursor(cursor)
		if err != nil {
			return Page{}, err
		}
		cond = ` AND (r.started_at, r.id) < ($3, $4::uuid)`
		args = append(args, t, id)
	}
	if !validUUID(riderID) {
		return Page{}, nil
	}
	rows, err := s.cfg.Pool.Query(ctx, `SELECT `+rideCols+` WHERE r.rider_id = $1 AND r.state <> 'cancelled'`+cond+`
		ORDER BY r.started_at DESC, r.id DESC LIMIT $2`, args...)
	if err != nil {
		return Page{}, fmt.Errorf("rides: history: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Ride, error) { return scanRide(row) })
	if err != nil {
		return Page{}, fmt.Errorf("rides: history: %w", err)
	}
	p := Page{Rides: list}
	if len(list) > limit {
		p.Rides = list[:limit]
		p.Next = encodeCursor(list[limit-1])
	}
	return p, nil
}

// Receipt is an ended ride with its fare breakdown, route and pauses.
type Receipt struct {
	Ride      Ride
	Breakdown StoredBreakdown
	Route     json.RawMessage // GeoJSON LineString
	Pauses    []Pause
}

// Receipt returns the receipt of one of a rider's ended rides (ErrRideState while open).
func (s *Service) Receipt(ctx context.Context, riderID, rideID string) (Receipt, error) {
	r, err := s.Get(ctx, riderID, rideID)
	if err != nil {
		return Receipt{}, err
	}
	if r.State != StateEnded {
		return Receipt{}, fmt.Errorf("%w: the ride is %s; a receipt exists once it ended", ErrRideState, r.State)
	}
	var bd, route []byte
	if err := s.cfg.Pool.QueryRow(ctx, `SELECT fare_breakdown::text, coalesce(route::text, '{}') FROM rides WHERE id = $1`,
		rideID).Scan(&bd, &route); err != nil {
		return Receipt{}, fmt.Errorf("rides: receipt: %w", err)
	}
	rc := Receipt{Ride: r, Route: route}
	if err := json.Unmarshal(bd, &rc.Breakdown); err != nil {
		return Receipt{}, fmt.Errorf("rides: receipt: breakdown: %w", err)
	}
	if rc.Pauses, err = loadPauses(ctx, s.cfg.Pool, rideID); err != nil {
		return Receipt{}, err
	}
	return rc, nil
}

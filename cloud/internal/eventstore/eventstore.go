package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// ErrInvalid is wrapped by the errors of Insert for input it cannot store
// (bad ids, seq 0 or above the bigint range, no vehicle, kind or time).
var ErrInvalid = errors.New("eventstore: invalid event")

// insertSQL writes a whole batch in one statement (hence one transaction):
// parallel arrays unnested into rows, duplicates on (gateway, seq) skipped.
const insertSQL = `
INSERT INTO vehicle_events (city, gateway, seq, vehicle, at, kind, payload)
SELECT $1, $2, u.seq, u.vehicle, u.at, u.kind, u.payload::jsonb
FROM unnest($3::bigint[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
     AS u(seq, vehicle, at, kind, payload)
ON CONFLICT (gateway, seq) DO NOTHING`

// Insert stores events of gateway gw in city in one transaction; events whose
// (gateway, seq) is already stored are skipped, so inserting the same batch
// twice stores each event once. payload is the event's kind-specific payload
// as a JSON object ({} for an unknown kind without one). An empty slice is a
// no-op. Invalid input is rejected before any write, wrapped in ErrInvalid.
func Insert(ctx context.Context, pool *pgxpool.Pool, city link.CityID, gw link.GatewayID, events []link.Event) error {
	if len(events) == 0 {
		return nil
	}
	if pool == nil {
		return fmt.Errorf("%w: no database pool", ErrInvalid)
	}
	if _, err := link.ParseCityID(string(city)); err != nil {
		return fmt.Errorf("%w: city %q: %w", ErrInvalid, city, err)
	}
	if _, err := link.ParseGatewayID(string(gw)); err != nil {
		return fmt.Errorf("%w: gateway %q: %w", ErrInvalid, gw, err)
	}
	n := len(events)
	seqs := make([]int64, n)
	vehicles := make([]string, n)
	ats := make([]time.Time, n)
	kinds := make([]string, n)
	payloads := make([]string, n)
	for i := range events {
		e := &events[i]
		switch {
		case e.Seq == 0 || e.Seq > math.MaxInt64:
			return fmt.Errorf("%w: event %d: seq %d outside 1..%d", ErrInvalid, i, e.Seq, int64(math.MaxInt64))
		case e.Vehicle == "":
			return fmt.Errorf("%w: event %d (seq %d): no vehicle", ErrInvalid, i, e.Seq)
		case e.Kind == "":
			return fmt.Errorf("%w: event %d (seq %d): no kind", ErrInvalid, i, e.Seq)
		case e.Time.IsZero():
			return fmt.Errorf("%w: event %d (seq %d): no time", ErrInvalid, i, e.Seq)
		}
		p, err := payload(e)
		if err != nil {
			return fmt.Errorf("%w: event %d (seq %d): payload: %w", ErrInvalid, i, e.Seq, err)
		}
		seqs[i], vehicles[i], ats[i], kinds[i], payloads[i] = int64(e.Seq), e.Vehicle, e.Time, string(e.Kind), p
	}
	if _, err := pool.Exec(ctx, insertSQL, string(city), string(gw), seqs, vehicles, ats, kinds, payloads); err != nil {
		return fmt.Errorf("eventstore: insert %d events of %s: %w", n, gw, err)
	}
	return nil
}

// payload returns the JSON of the payload matching e.Kind, or of the one set
// payload for a kind this version does not know, or {} when none is set.
func payload(e *link.Event) (string, error) {
	var v any
	switch e.Kind {
	case link.EventRideStarted, link.EventRideEnded, link.EventRidePaused, link.EventRideResumed:
		v = nonNil(e.Ride)
	case link.EventAlarm:
		v = nonNil(e.Alarm)
	case link.EventCommand:
		v = nonNil(e.Command)
	case link.EventStateChanged:
		v = nonNil(e.State)
	case link.EventSecurity:
		v = nonNil(e.Security)
	case link.EventFirmware:
		v = nonNil(e.Firmware)
	default:
		for _, c := range []any{nonNil(e.Ride), nonNil(e.Alarm), nonNil(e.Command), nonNil(e.State), nonNil(e.Security), nonNil(e.Firmware)} {
			if c != nil {
				v = c
				break
			}
		}
	}
	if v == nil {
		return "{}", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// nonNil turns a typed nil pointer into an untyped nil.
func nonNil[T any](p *T) any {
	if p == nil {
		return nil
	}
	return p
}

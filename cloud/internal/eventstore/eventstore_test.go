package eventstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetedge/fleetedge/cloud/internal/eventstore"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
	"github.com/fleetedge/fleetedge/protocol/link"
)

type row struct {
	City, Gateway, Vehicle, Kind string
	Seq                          int64
	At                           time.Time
	Payload                      map[string]any
}

func rows(t *testing.T, pool *pgxpool.Pool) []row {
	t.Helper()
	rs, err := pool.Query(t.Context(), `SELECT city, gateway, seq, vehicle, at, kind, payload FROM vehicle_events ORDER BY gateway, seq`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rs, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.City, &x.Gateway, &x.Seq, &x.Vehicle, &x.At, &x.Kind, &x.Payload)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func seqs(rs []row) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mixed(at time.Time) []link.Event {
	return []link.Event{
		{Seq: 3, Vehicle: "RG001", Time: at, Kind: link.EventRideStarted, Ride: &link.RideEvent{RideID: "r-1", Position: &link.Position{Lat: 56.95, Lon: 24.11}}},
		{Seq: 4, Vehicle: "RG002", Time: at.Add(time.Second), Kind: link.EventAlarm, Alarm: &link.AlarmEvent{Reason: "fallen"}},
		{Seq: 5, Vehicle: "RG001", Time: at.Add(2 * time.Second), Kind: link.EventCommand, Command: &link.CommandResult{V: 1, ID: "c-9", Vehicle: "RG001", Code: 1, Outcome: "ok"}},
		{Seq: 6, Vehicle: "RG003", Time: at.Add(3 * time.Second), Kind: link.EventStateChanged, State: &link.StateEvent{From: "online", To: "offline"}},
		{Seq: 7, Vehicle: "RG003", Time: at.Add(4 * time.Second), Kind: "future_kind"},
	}
}

// TestInsertIdempotent: a mixed batch lands with its payloads; the same batch
// again adds nothing; an overlapping batch adds only its new seqs; another
// gateway's equal seqs are separate events.
func TestInsertIdempotent(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	at := time.Date(2026, 11, 25, 10, 0, 0, 123000000, time.UTC)
	batch := mixed(at)

	for range 2 {
		if err := eventstore.Insert(ctx, db.Pool, "riga", "riga-gw-1", batch); err != nil {
			t.Fatal(err)
		}
	}
	got := rows(t, db.Pool)
	if !equal(seqs(got), []int64{3, 4, 5, 6, 7}) {
		t.Fatalf("after the batch twice: seqs %v, want 3..7 once", seqs(got))
	}
	for i, r := range got {
		e := batch[i]
		if r.City != "riga" || r.Gateway != "riga-gw-1" || r.Vehicle != e.Vehicle || r.Kind != string(e.Kind) || !r.At.Equal(e.Time) {
			t.Errorf("row %d = %+v, want event %+v", i, r, e)
		}
	}
	checks := []struct {
		key  string
		want any
	}{
		{"ride_id", "r-1"}, {"reason", "fallen"}, {"id", "c-9"}, {"to", "offline"},
	}
	for i, c := range checks {
		if v := got[i].Payload[c.key]; v != c.want {
			t.Errorf("row %d payload %v: %s = %v, want %v", i, got[i].Payload, c.key, v, c.want)
		}
	}
	if pos, _ := got[0].Payload["position"].(map[string]any); pos == nil || pos["lat"] != 56.95 {
		t.Errorf("ride payload %v lost its position", got[0].Payload)
	}
	if len(got[4].Payload) != 0 {
		t.Errorf("unknown kind without payload stored %v, want {}", got[4].Payload)
	}

	overlap := []link.Event{
		{Seq: 6, Vehicle: "RG003", Time: at.Add(3 * time.Second), Kind: link.EventStateChanged, State: &link.StateEvent{From: "online", To: "offline"}},
		{Seq: 7, Vehicle: "RG003", Time: at.Add(4 * time.Second), Kind: "future_kind"},
		{Seq: 8, Vehicle: "RG004", Time: at.Add(5 * time.Second), Kind: link.EventRideEnded, Ride: &link.RideEvent{RideID: "r-2", EndedBy: "gateway"}},
		{Seq: 9, Vehicle: "RG004", Time: at.Add(6 * time.Second), Kind: link.EventFirmware, Firmware: &link.FirmwareEvent{JobID: "j", Total: 3, State: "running"}},
	}
	if err := eventstore.Insert(ctx, db.Pool, "riga", "riga-gw-1", overlap); err != nil {
		t.Fatal(err)
	}
	// Another gateway's seqs are its own.
	if err := eventstore.Insert(ctx, db.Pool, "riga", "riga-gw-2", batch[:1]); err != nil {
		t.Fatal(err)
	}
	got = rows(t, db.Pool)
	if !equal(seqs(got), []int64{3, 4, 5, 6, 7, 8, 9, 3}) {
		t.Fatalf("after the overlapping batch: seqs %v, want gw-1 3..9 and gw-2 3", seqs(got))
	}
	if got[5].Payload["ended_by"] != "gateway" || got[6].Payload["job_id"] != "j" || got[7].Gateway != "riga-gw-2" {
		t.Errorf("new rows %+v", got[5:])
	}

	// The reporting role reads the table.
	rep, err := pgxpool.New(ctx, db.ReportingDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	var n int
	if err := rep.QueryRow(ctx, `SELECT count(*) FROM vehicle_events`).Scan(&n); err != nil || n != 8 {
		t.Fatalf("reporting role: count %d, err %v; want 8", n, err)
	}
	if _, err := rep.Exec(ctx, `DELETE FROM vehicle_events`); err == nil {
		t.Fatal("reporting role could delete events")
	}
}

func TestInsertRejectsBadInput(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	at := time.Now()
	ok := link.Event{Seq: 1, Vehicle: "V1", Time: at, Kind: link.EventAlarm, Alarm: &link.AlarmEvent{Reason: "x"}}
	with := func(f func(*link.Event)) []link.Event { e := ok; f(&e); return []link.Event{ok, e} }
	cases := []struct {
		name   string
		city   link.CityID
		gw     link.GatewayID
		events []link.Event
	}{
		{"bad city", "Riga!", "gw", []link.Event{ok}},
		{"empty gateway", "riga", "", []link.Event{ok}},
		{"seq 0", "riga", "gw", with(func(e *link.Event) { e.Seq = 0 })},
		{"seq above bigint", "riga", "gw", with(func(e *link.Event) { e.Seq = 1 << 63 })},
		{"no vehicle", "riga", "gw", with(func(e *link.Event) { e.Seq, e.Vehicle = 2, "" })},
		{"no kind", "riga", "gw", with(func(e *link.Event) { e.Seq, e.Kind = 2, "" })},
		{"no time", "riga", "gw", with(func(e *link.Event) { e.Seq, e.Time = 2, time.Time{} })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := eventstore.Insert(t.Context(), db.Pool, c.city, c.gw, c.events); !errors.Is(err, eventstore.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if n := len(rows(t, db.Pool)); n != 0 {
		t.Fatalf("%d rows written by rejected batches", n)
	}
	if err := eventstore.Insert(t.Context(), nil, "riga", "gw", []link.Event{ok}); !errors.Is(err, eventstore.ErrInvalid) {
		t.Fatalf("nil pool: err = %v", err)
	}
	if err := eventstore.Insert(t.Context(), db.Pool, "riga", "gw", nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}

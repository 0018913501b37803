package chstore

import (
	"errors"
	"testing"
	"time"
)

// TestVehicleHistory: RecentTelemetry and RouteFixes count a redelivered record once, keep to
// the vehicle, city and window, and the route leaves out records without a position and
// records repeating the previous one (wide rows of records that carried other groups).
func TestVehicleHistory(t *testing.T) {
	s := newStore(t, true)
	ctx := testCtx(t)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	row := func(seq uint64, vehicle string, ms int, lat, lon float64, battery uint8) TelemetryRow {
		return TelemetryRow{City: "paris", Gateway: "gw1", Seq: seq, Vehicle: vehicle, Time: at(ms),
			Lat: lat, Lon: lon, SpeedKmh: float32(seq), BatteryPct: battery, Powered: seq%2 == 0}
	}
	rows := []TelemetryRow{
		row(1, "V1", 0, 0, 0, 90),           // no position yet
		row(2, "V1", 1000, 48.85, 2.35, 90), // first fix
		row(3, "V1", 1500, 48.85, 2.35, 89), // battery only: same position
		row(4, "V1", 2250, 48.86, 2.36, 89),
		row(5, "V1", 3000, 48.87, 2.37, 88),
		row(6, "V2", 1200, 1, 1, 50), // another vehicle
		row(7, "V1", 9000, 48.9, 2.4, 80),
	}
	other := row(8, "V1", 2000, 45.0, 4.0, 10)
	other.City = "lyon"
	if err := s.InsertTelemetry(ctx, append(rows, other)); err != nil {
		t.Fatal(err)
	}
	// A redelivery of records 4 and 5 in a separate INSERT (a separate part: no merge yet).
	if err := s.InsertTelemetry(ctx, rows[3:5]); err != nil {
		t.Fatal(err)
	}
	w := Window{From: t0, To: at(5000)}

	recent, err := s.RecentTelemetry(ctx, "paris", "V1", w, 3)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, r := range recent {
		seqs = append(seqs, r.Seq)
	}
	if len(recent) != 3 || seqs[0] != 5 || seqs[1] != 4 || seqs[2] != 3 {
		t.Fatalf("recent seqs %v, want [5 4 3]", seqs)
	}
	if r := recent[0]; r.City != "paris" || r.Vehicle != "V1" || r.Gateway != "gw1" || !r.Time.Equal(at(3000)) ||
		r.Lat != 48.87 || r.BatteryPct != 88 || r.Powered || r.SpeedKmh != 5 {
		t.Errorf("recent[0] = %+v", r)
	}
	if all, err := s.RecentTelemetry(ctx, "paris", "V1", w, 100); err != nil || len(all) != 5 {
		t.Errorf("all in window: %d rows, %v (want 5: seq 7 is outside)", len(all), err)
	}

	route, err := s.RouteFixes(ctx, "paris", "V1", w)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ms       int
		lat, lon float64
	}{{1000, 48.85, 2.35}, {2250, 48.86, 2.36}, {3000, 48.87, 2.37}}
	if len(route) != len(want) {
		t.Fatalf("route %+v, want %d points", route, len(want))
	}
	for i, p := range route {
		if !p.Time.Equal(at(want[i].ms)) || p.Lat != want[i].lat || p.Lon != want[i].lon {
			t.Errorf("route[%d] = %+v, want %+v", i, p, want[i])
		}
	}

	for name, err := range map[string]error{
		"limit 0":     historyErr(s.RecentTelemetry(ctx, "paris", "V1", w, 0)),
		"limit big":   historyErr(s.RecentTelemetry(ctx, "paris", "V1", w, MaxRecentTelemetry+1)),
		"no vehicle":  historyErr(s.RecentTelemetry(ctx, "paris", "", w, 1)),
		"bad window":  historyErr(s.RouteFixes(ctx, "paris", "V1", Window{From: at(10), To: at(5)})),
		"route no id": historyErr(s.RouteFixes(ctx, "", "V1", w)),
	} {
		if !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: %v, want ErrInvalidQuery", name, err)
		}
	}
}

func historyErr[T any](_ T, err error) error { return err }

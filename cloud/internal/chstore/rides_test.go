package chstore

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

var rideBase = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func ride(id, vehicle string, start time.Time, minutes int, fare int64, version uint64) RideRow {
	return RideRow{ID: id, City: "bcn", Vehicle: vehicle, Rider: "r-" + id, StartedAt: start,
		EndedAt: start.Add(time.Duration(minutes) * time.Minute), DistanceM: uint64(minutes) * 100,
		FareTotalMinor: fare, Currency: "EUR", StartLat: 41.3851, StartLon: 2.1734, HasEnd: true,
		EndLat: 41.3901, EndLon: 2.1800, Version: version}
}

func TestRidesDedupeAndBuckets(t *testing.T) {
	s := newStore(t, true)
	ctx := testCtx(t)
	rows := []RideRow{
		ride("a", "v1", rideBase.Add(5*time.Minute), 10, 250, 1),
		ride("b", "v2", rideBase.Add(20*time.Minute), 70, 900, 1),
		ride("c", "v1", rideBase.Add(26*time.Hour), 5, 150, 1),
		{ID: "d", City: "other", Vehicle: "v9", Rider: "x", StartedAt: rideBase, EndedAt: rideBase.Add(time.Minute),
			Currency: "EUR", StartLat: 1, StartLon: 1, Version: 1},
	}
	if err := s.InsertRides(ctx, rows); err != nil {
		t.Fatal(err)
	}
	// Redelivery of a and a corrected b (newer version) in separate INSERTs (separate parts).
	b2 := ride("b", "v2", rideBase.Add(20*time.Minute), 70, 1000, 2)
	if err := s.InsertRides(ctx, []RideRow{rows[0], b2}); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, "SELECT count() FROM rides"); got != 6 {
		t.Fatalf("raw rows %d, want 6 (duplicates kept until a merge)", got)
	}
	w := Window{From: rideBase, To: rideBase.Add(48 * time.Hour)}
	tot, err := s.RideTotals(ctx, "bcn", w)
	if err != nil {
		t.Fatal(err)
	}
	if want := (RideTotals{Rides: 3, FareTotalMinor: 250 + 1000 + 150, DistanceM: 1000 + 7000 + 500}); tot != want {
		t.Fatalf("totals %+v, want %+v", tot, want)
	}
	hours, err := s.RidesPerBucket(ctx, "bcn", w, BucketHour)
	if err != nil {
		t.Fatal(err)
	}
	wantHours := []RideBucket{
		{Start: rideBase, Currency: "EUR", Rides: 2, FareTotalMinor: 1250, DistanceM: 8000, DurationS: 80 * 60},
		{Start: rideBase.Add(26 * time.Hour), Currency: "EUR", Rides: 1, FareTotalMinor: 150, DistanceM: 500, DurationS: 300},
	}
	if !reflect.DeepEqual(hours, wantHours) {
		t.Fatalf("hours %+v\nwant %+v", hours, wantHours)
	}
	days, err := s.RidesPerBucket(ctx, "bcn", w, BucketDay)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 2 || days[0].Start != rideBase.Truncate(24*time.Hour) || days[0].Rides != 2 || days[1].Rides != 1 {
		t.Fatalf("days %+v", days)
	}
	if _, err := s.RidesPerBucket(ctx, "bcn", w, "week"); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("bucket week: %v", err)
	}

	wm, err := s.RideWatermark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := s.RideVersionsSince(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if wm != 2 || !reflect.DeepEqual(vs, []RideVersion{{ID: "b", Version: 2}}) {
		t.Fatalf("sync state %d %+v", wm, vs)
	}

	bad := ride("e", "v1", rideBase, 1, -1, 1)
	var re *RowError
	if err := s.InsertRides(ctx, []RideRow{bad}); !errors.As(err, &re) || re.Field != "FareTotalMinor" {
		t.Fatalf("negative fare: %v", err)
	}
}

func TestUtilisation(t *testing.T) {
	s := newStore(t, true)
	ctx := testCtx(t)
	// v1 rides 08:30–09:15 (1800 s in hour 8, 900 s in hour 9); v2 rides 09:50–09:55.
	// Telemetry: v1, v2, v3 in hour 8 (twice for v3: a redelivery); v3 in hour 10.
	rides := []RideRow{
		ride("a", "v1", rideBase.Add(30*time.Minute), 45, 100, 1),
		ride("b", "v2", rideBase.Add(110*time.Minute), 5, 100, 1),
	}
	if err := s.InsertRides(ctx, rides); err != nil {
		t.Fatal(err)
	}
	tel := func(v string, seq uint64, at time.Time) TelemetryRow {
		return TelemetryRow{City: "bcn", Gateway: "g", Seq: seq, Vehicle: v, Time: at, Lat: 41, Lon: 2, BatteryPct: 50}
	}
	if err := s.InsertTelemetry(ctx, []TelemetryRow{
		tel("v1", 1, rideBase.Add(time.Minute)), tel("v2", 2, rideBase.Add(2*time.Minute)), tel("v3", 3, rideBase.Add(3*time.Minute)),
		tel("v3", 3, rideBase.Add(3*time.Minute)), tel("v3", 4, rideBase.Add(2*time.Hour+time.Minute)),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Utilisation(ctx, "bcn", Window{From: rideBase.Add(10 * time.Minute), To: rideBase.Add(150 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	want := []UtilisationHour{
		{Hour: rideBase, Fleet: 3, Riding: 1, RideSeconds: 1800},
		{Hour: rideBase.Add(time.Hour), Fleet: 2, Riding: 2, RideSeconds: 900 + 300},
		{Hour: rideBase.Add(2 * time.Hour), Fleet: 1, Riding: 0, RideSeconds: 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("utilisation %+v\nwant %+v", got, want)
	}
	// A window starting at 09:00 still sees ride a (started before it) in hour 9 only.
	got, err = s.Utilisation(ctx, "bcn", Window{From: rideBase.Add(time.Hour), To: rideBase.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want[1:2]) {
		t.Fatalf("utilisation from 09:00 %+v, want %+v", got, want[1:2])
	}
}

func TestLatestStatesAndHeatmap(t *testing.T) {
	s := newStore(t, true)
	ctx := testCtx(t)
	if err := s.InsertTelemetry(ctx, []TelemetryRow{
		{City: "bcn", Gateway: "g", Seq: 1, Vehicle: "v1", Time: rideBase, Lat: 41, Lon: 2, BatteryPct: 80},
		{City: "bcn", Gateway: "g", Seq: 2, Vehicle: "v1", Time: rideBase.Add(time.Minute), Lat: 41.1, Lon: 2.1, BatteryPct: 15, Fallen: true, ErrorCode: 7},
		{City: "bcn", Gateway: "g", Seq: 3, Vehicle: "v2", Time: rideBase, Lat: 41, Lon: 2, BatteryPct: 60, Locked: true},
	}); err != nil {
		t.Fatal(err)
	}
	st, err := s.LatestStates(ctx, "bcn", Window{From: rideBase.Add(-time.Hour), To: rideBase.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	want := []VehicleState{
		{Vehicle: "v1", Time: rideBase.Add(time.Minute), Lat: 41.1, Lon: 2.1, BatteryPct: 15, Fallen: true, ErrorCode: 7},
		{Vehicle: "v2", Time: rideBase, Lat: 41, Lon: 2, BatteryPct: 60, Locked: true},
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("states %+v\nwant %+v", st, want)
	}

	// Alarm events per vehicle, a redelivered one counted once.
	ev := func(seq uint64, v, kind string, at time.Time) EventRow {
		return EventRow{City: "bcn", Gateway: "g", Seq: seq, Vehicle: v, Time: at, Kind: kind}
	}
	if err := s.InsertEvents(ctx, []EventRow{ev(10, "v1", "alarm", rideBase), ev(11, "v1", "alarm", rideBase.Add(2*time.Second)),
		ev(11, "v1", "alarm", rideBase.Add(2*time.Second)), ev(12, "v2", "fallen", rideBase), ev(13, "v2", "alarm", rideBase.Add(-2*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	alarms, err := s.EventCountsByVehicle(ctx, "bcn", "alarm", Window{From: rideBase.Add(-time.Hour), To: rideBase.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []VehicleEventCount{{Vehicle: "v1", Count: 2, Last: rideBase.Add(2 * time.Second)}}; !reflect.DeepEqual(alarms, want) {
		t.Fatalf("alarms %+v, want %+v", alarms, want)
	}

	// Heatmap: two rides from the same corner, one ending elsewhere, one without an end.
	r1 := ride("a", "v1", rideBase, 5, 1, 1)
	r2 := ride("b", "v2", rideBase.Add(time.Minute), 5, 1, 1)
	r2.HasEnd = false
	if err := s.InsertRides(ctx, []RideRow{r1, r2, r1}); err != nil {
		t.Fatal(err)
	}
	h, err := s.Heatmap(ctx, "bcn", Window{From: rideBase, To: rideBase.Add(time.Hour)}, 100, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Cells) != 2 || h.Truncated {
		t.Fatalf("heatmap %+v", h)
	}
	if c := h.Cells[0]; c.Starts != 2 || c.Ends != 0 || !(c.MinLat <= 41.3851 && 41.3851 < c.MaxLat && c.MinLon <= 2.1734 && 2.1734 < c.MaxLon) {
		t.Fatalf("start cell %+v", c)
	}
	if c := h.Cells[1]; c.Starts != 0 || c.Ends != 1 || !(c.MinLat <= 41.3901 && 41.3901 < c.MaxLat) {
		t.Fatalf("end cell %+v", c)
	}
	if d := (h.CellLat * 111_320); d < 99.9 || d > 100.1 {
		t.Fatalf("cell lat %v deg", h.CellLat)
	}
	h, err = s.Heatmap(ctx, "bcn", Window{From: rideBase, To: rideBase.Add(time.Hour)}, 100, 1)
	if err != nil || len(h.Cells) != 1 || !h.Truncated || h.Cells[0].Starts != 2 {
		t.Fatalf("truncated heatmap %+v %v", h, err)
	}
	if _, err := s.Heatmap(ctx, "bcn", Window{From: rideBase, To: rideBase.Add(time.Hour)}, 0, 1); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("cell 0: %v", err)
	}
}

package chstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/shared/chtest"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newStore opens a Store on a fresh database; migrated when migrate is true.
func newStore(t *testing.T, migrate bool) *Store {
	t.Helper()
	ctx := testCtx(t)
	dsn, _ := chtest.New(t)
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if migrate {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	return s
}

func count(t *testing.T, s *Store, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := s.conn.QueryRow(testCtx(t), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func exec(t *testing.T, s *Store, query string) {
	t.Helper()
	if err := s.conn.Exec(testCtx(t), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// stopMerges keeps every INSERT its own part, so duplicates stay physically present and the
// queries' own deduplication is what the test sees.
func stopMerges(t *testing.T, s *Store, table string) {
	t.Helper()
	exec(t, s, "SYSTEM STOP MERGES "+table)
}

func TestOpenErrors(t *testing.T) {
	ctx := testCtx(t)
	for _, dsn := range []string{"::not a dsn", "http://127.0.0.1:8123/db"} {
		if _, err := Open(ctx, dsn); !errors.Is(err, ErrInvalidDSN) {
			t.Errorf("Open(%q) = %v, want ErrInvalidDSN", dsn, err)
		}
	}
	// A port nobody listens on: Open must fail, not hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, "clickhouse://"+addr+"/default?dial_timeout=1s"); err == nil {
		t.Errorf("Open on closed port %s succeeded", addr)
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestMigrate(t *testing.T) {
	ctx := testCtx(t)
	s := newStore(t, false)
	want := []uint32{1, 2, 3, 4}

	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	for round := 1; round <= 3; round++ {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate round %d: %v", round, err)
		}
		got, err := s.AppliedVersions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: applied versions %v, want %v", round, got, want)
		}
		if n := count(t, s, "SELECT count() FROM schema_migrations"); n != uint64(len(want)) {
			t.Errorf("round %d: schema_migrations holds %d rows, want %d (re-applied?)", round, n, len(want))
		}
	}
	for _, table := range []string{"telemetry", "events", "commands", "rides"} {
		n := count(t, s, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ? AND engine = 'ReplacingMergeTree'", table)
		if n != 1 {
			t.Errorf("table %s missing or not ReplacingMergeTree", table)
		}
	}

	t.Run("schema newer than binary", func(t *testing.T) {
		if err := s.recordMigration(ctx, migration{version: 999, name: "future"}); err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(ctx); !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("Migrate with version 999 recorded = %v, want ErrSchemaTooNew", err)
		}
	})
}

// TestMigrateResumes: a crash after a step's DDL but before its schema_migrations row leaves
// the table in place; the next Migrate re-runs the step without failing.
func TestMigrateResumes(t *testing.T) {
	ctx := testCtx(t)
	s := newStore(t, true)
	exec(t, s, "ALTER TABLE schema_migrations DELETE WHERE version = 3")
	deadline := time.Now().Add(20 * time.Second)
	for count(t, s, "SELECT count() FROM schema_migrations WHERE version = 3") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("mutation deleting version 3 did not finish")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after lost version row: %v", err)
	}
	got, err := s.AppliedVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []uint32{1, 2, 3, 4}) {
		t.Errorf("applied versions %v", got)
	}
}

var day0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func fix(gw string, seq uint64, vehicle string, at time.Duration, lat, lon float64, battery uint8) TelemetryRow {
	return TelemetryRow{
		City: "madrid", Gateway: gw, Seq: seq, Vehicle: vehicle, Time: day0.Add(at),
		Lat: lat, Lon: lon, SpeedKmh: 12.5, SpeedLimitKmh: 25, BatteryPct: battery, VoltageV: 37.5,
		Signal: 20, Powered: true, Locked: false, Paused: seq%2 == 0, Fallen: false, AtStation: true,
		ErrorCode: uint16(seq % 3),
	}
}

func TestTelemetryDedup(t *testing.T) {
	ctx := testCtx(t)
	s := newStore(t, true)
	stopMerges(t, s, "telemetry")

	first := []TelemetryRow{
		fix("gw1", 1, "v1", 10*time.Hour, 40.41, -3.70, 95),
		fix("gw1", 2, "v1", 10*time.Hour+5*time.Second+250*time.Millisecond, 40.42, -3.71, 94),
		fix("gw1", 3, "v2", 10*time.Hour, 40.43, -3.72, 35),
		fix("gw1", 4, "v3", 10*time.Hour, 40.44, -3.73, 100),
	}
	// The redelivery repeats seq 2 and 3 (as a gateway resending after a reconnect) in a
	// separate INSERT, plus new records.
	second := []TelemetryRow{
		first[1], first[2],
		fix("gw1", 5, "v1", 10*time.Hour+10*time.Second+999*time.Millisecond, 40.45, -3.74, 93),
		fix("gw2", 2, "v2", 11*time.Hour, 40.46, -3.75, 5), // same seq, other gateway: distinct
		{City: "paris", Gateway: "gw9", Seq: 1, Vehicle: "v1", Time: day0.Add(10 * time.Hour), Lat: 48.85, Lon: 2.35, BatteryPct: 50},
	}
	for _, batch := range [][]TelemetryRow{first, second, second} {
		if err := s.InsertTelemetry(ctx, batch); err != nil {
			t.Fatalf("InsertTelemetry: %v", err)
		}
	}
	if parts := count(t, s, "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'telemetry' AND active"); parts < 3 {
		t.Fatalf("%d active parts: duplicates were merged away before the queries ran", parts)
	}
	if raw := count(t, s, "SELECT count() FROM telemetry WHERE city = 'madrid'"); raw != 12 {
		t.Fatalf("raw rows %d, want 12 (duplicates must be physically present)", raw)
	}
	day := Window{From: day0, To: day0.Add(24 * time.Hour)}

	t.Run("counts", func(t *testing.T) {
		got, err := s.TelemetryCounts(ctx, "madrid", day)
		if err != nil {
			t.Fatal(err)
		}
		want := []VehicleCount{{"v1", 3}, {"v2", 2}, {"v3", 1}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("TelemetryCounts = %v, want %v", got, want)
		}
	})

	t.Run("window edges", func(t *testing.T) {
		tests := []struct {
			name string
			w    Window
			want []VehicleCount
		}{
			{"from is inclusive to the ms", Window{day0.Add(10*time.Hour + 5*time.Second + 250*time.Millisecond), day0.Add(10*time.Hour + 6*time.Second)}, []VehicleCount{{"v1", 1}}},
			{"to is exclusive to the ms", Window{day0.Add(10*time.Hour + 5*time.Second), day0.Add(10*time.Hour + 5*time.Second + 250*time.Millisecond)}, nil},
			{"last ms of a second", Window{day0.Add(10*time.Hour + 10*time.Second + 999*time.Millisecond), day0.Add(10*time.Hour + 11*time.Second)}, []VehicleCount{{"v1", 1}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.TelemetryCounts(ctx, "madrid", tt.w)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("TelemetryCounts = %v, want %v", got, tt.want)
				}
			})
		}
	})

	t.Run("latest positions", func(t *testing.T) {
		got, err := s.LatestPositions(ctx, "madrid", day)
		if err != nil {
			t.Fatal(err)
		}
		want := []VehiclePosition{
			{"v1", day0.Add(10*time.Hour + 10*time.Second + 999*time.Millisecond), 40.45, -3.74, 12.5, 93},
			{"v2", day0.Add(11 * time.Hour), 40.46, -3.75, 12.5, 5},
			{"v3", day0.Add(10 * time.Hour), 40.44, -3.73, 12.5, 100},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("LatestPositions =\n%v\nwant\n%v", got, want)
		}
	})

	t.Run("route", func(t *testing.T) {
		got, err := s.Route(ctx, "madrid", "v1", day)
		if err != nil {
			t.Fatal(err)
		}
		want := []RoutePoint{
			{day0.Add(10 * time.Hour), 40.41, -3.70, 12.5},
			{day0.Add(10*time.Hour + 5*time.Second + 250*time.Millisecond), 40.42, -3.71, 12.5},
			{day0.Add(10*time.Hour + 10*time.Second + 999*time.Millisecond), 40.45, -3.74, 12.5},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Route =\n%v\nwant\n%v", got, want)
		}
	})

	t.Run("battery distribution", func(t *testing.T) {
		got, err := s.BatteryDistribution(ctx, "madrid", day)
		if err != nil {
			t.Fatal(err)
		}
		// v1 latest 93 and v3 100 → 90 bucket; v2 latest 5 → 0 bucket.
		want := []BatteryBucket{{0, 1}, {90, 2}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("BatteryDistribution = %v, want %v", got, want)
		}
	})

	t.Run("moving vehicles per hour", func(t *testing.T) {
		parked := fix("gw3", 1, "v4", 10*time.Hour, 40, -3, 50)
		parked.SpeedKmh = 0
		if err := s.InsertTelemetry(ctx, []TelemetryRow{parked}); err != nil {
			t.Fatal(err)
		}
		got, err := s.MovingVehiclesPerHour(ctx, "madrid", day)
		if err != nil {
			t.Fatal(err)
		}
		want := []HourCount{{day0.Add(10 * time.Hour), 3}, {day0.Add(11 * time.Hour), 1}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("MovingVehiclesPerHour = %v, want %v", got, want)
		}
	})

	t.Run("row round trip", func(t *testing.T) {
		var (
			speed, volt                                float32
			limit, battery, signal                     uint8
			powered, locked, paused, fallen, atStation uint8
			errCode                                    uint16
		)
		err := s.conn.QueryRow(ctx, `SELECT speed_kmh, voltage_v, speed_limit_kmh, battery_pct, signal,
 powered, locked, paused, fallen, at_station, error_code FROM telemetry WHERE gateway = 'gw1' AND seq = 2 LIMIT 1`).
			Scan(&speed, &volt, &limit, &battery, &signal, &powered, &locked, &paused, &fallen, &atStation, &errCode)
		if err != nil {
			t.Fatal(err)
		}
		got := []any{speed, volt, limit, battery, signal, powered, locked, paused, fallen, atStation, errCode}
		want := []any{float32(12.5), float32(37.5), uint8(25), uint8(94), uint8(20), uint8(1), uint8(0), uint8(1), uint8(0), uint8(1), uint16(2)}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("stored row %v, want %v", got, want)
		}
	})
}

func TestEventsDedup(t *testing.T) {
	ctx := testCtx(t)
	s := newStore(t, true)
	stopMerges(t, s, "events")
	at := day0.Add(8*time.Hour + 123*time.Millisecond)
	batch := []EventRow{
		{City: "madrid", Gateway: "gw1", Seq: 10, Vehicle: "v1", Time: at, Kind: "ride_start", Code: 1, Details: `{"rider":"r1"}`},
		{City: "madrid", Gateway: "gw1", Seq: 11, Vehicle: "v1", Time: at.Add(time.Minute), Kind: "fallen", Code: 27},
		{City: "madrid", Gateway: "gw1", Seq: 12, Vehicle: "v2", Time: at, Kind: "fallen", Code: 27, Details: `{}`},
	}
	for range 2 {
		if err := s.InsertEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if raw := count(t, s, "SELECT count() FROM events"); raw != 6 {
		t.Fatalf("raw rows %d, want 6", raw)
	}
	day := Window{From: day0, To: day0.Add(24 * time.Hour)}
	counts, err := s.EventCounts(ctx, "madrid", day)
	if err != nil {
		t.Fatal(err)
	}
	if want := []KindCount{{"fallen", 2}, {"ride_start", 1}}; !reflect.DeepEqual(counts, want) {
		t.Errorf("EventCounts = %v, want %v", counts, want)
	}
	got, err := s.VehicleEvents(ctx, "madrid", "v1", day)
	if err != nil {
		t.Fatal(err)
	}
	want := []EventRow{batch[0], batch[1]}
	want[1].Details = "{}" // empty details are stored as an empty object
	for i := range want {
		want[i].Time = want[i].Time.UTC()
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("VehicleEvents =\n%+v\nwant\n%+v", got, want)
	}
}

func TestCommandsDedup(t *testing.T) {
	ctx := testCtx(t)
	s := newStore(t, true)
	stopMerges(t, s, "commands")
	at := day0.Add(9 * time.Hour)
	var batch []CommandRow
	for i := range 10 {
		batch = append(batch, CommandRow{
			City: "madrid", Gateway: "gw1", Seq: uint64(100 + i), Vehicle: "v1", Time: at.Add(time.Duration(i) * time.Second),
			Command: 13, Fields: `{"k":2020}`, Outcome: "acked", ReplyCode: 14, ReplyStatus: 0,
			LatencyMs: uint32(10 * (i + 1)), Source: "rule:slow-zone-1",
		})
	}
	timeout := CommandRow{City: "madrid", Gateway: "gw1", Seq: 200, Vehicle: "v2", Time: at, Command: 1,
		Outcome: "timeout", ReplyStatus: -1, LatencyMs: 5000, Source: "admin:7"}
	if err := s.InsertCommands(ctx, append(batch, timeout)); err != nil {
		t.Fatal(err)
	}
	// Redeliver the slowest half: counted twice, they would shift the percentiles.
	if err := s.InsertCommands(ctx, batch[5:]); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertCommands(ctx, batch[9:]); err != nil {
		t.Fatal(err)
	}
	day := Window{From: day0, To: day0.Add(24 * time.Hour)}
	stats, err := s.CommandStats(ctx, "madrid", day)
	if err != nil {
		t.Fatal(err)
	}
	want := []CommandStat{
		{Command: 1, Outcome: "timeout", Count: 1, LatencyP50Ms: 5000, LatencyP95Ms: 5000},
		{Command: 13, Outcome: "acked", Count: 10, LatencyP50Ms: 60, LatencyP95Ms: 100},
	}
	if !reflect.DeepEqual(stats, want) {
		t.Errorf("CommandStats =\n%+v\nwant\n%+v", stats, want)
	}
	log, err := s.VehicleCommands(ctx, "madrid", "v2", day)
	if err != nil {
		t.Fatal(err)
	}
	timeout.Fields, timeout.Time = "{}", timeout.Time.UTC()
	if !reflect.DeepEqual(log, []CommandRow{timeout}) {
		t.Errorf("VehicleCommands = %+v, want %+v", log, timeout)
	}
	log, err = s.VehicleCommands(ctx, "madrid", "v1", day)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 10 || log[0].Seq != 100 || log[9].Seq != 109 {
		t.Errorf("VehicleCommands(v1) returned %d rows (want 10 distinct, ordered by time)", len(log))
	}
}

func TestInsertValidation(t *testing.T) {
	ctx := testCtx(t)
	s := newStore(t, true)
	good := fix("gw1", 1, "v1", time.Hour, 40, -3, 50)
	tests := []struct {
		name  string
		edit  func(r *TelemetryRow)
		field string
	}{
		{"empty city", func(r *TelemetryRow) { r.City = "" }, "City"},
		{"empty gateway", func(r *TelemetryRow) { r.Gateway = "" }, "Gateway"},
		{"empty vehicle", func(r *TelemetryRow) { r.Vehicle = "" }, "Vehicle"},
		{"long vehicle", func(r *TelemetryRow) { r.Vehicle = string(make([]byte, 129)) }, "Vehicle"},
		{"bad utf8 city", func(r *TelemetryRow) { r.City = "\xff" }, "City"},
		{"zero time", func(r *TelemetryRow) { r.Time = time.Time{} }, "Time"},
		{"before 1970", func(r *TelemetryRow) { r.Time = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC) }, "Time"},
		{"after 2106", func(r *TelemetryRow) { r.Time = time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC) }, "Time"},
		{"lat", func(r *TelemetryRow) { r.Lat = 91 }, "Lat"},
		{"lon", func(r *TelemetryRow) { r.Lon = -180.5 }, "Lon"},
		{"battery", func(r *TelemetryRow) { r.BatteryPct = 101 }, "BatteryPct"},
		{"negative speed", func(r *TelemetryRow) { r.SpeedKmh = -1 }, "SpeedKmh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := good
			tt.edit(&bad)
			err := s.InsertTelemetry(ctx, []TelemetryRow{good, bad})
			var re *RowError
			if !errors.Is(err, ErrInvalidRow) || !errors.As(err, &re) {
				t.Fatalf("InsertTelemetry = %v, want a *RowError", err)
			}
			if re.Index != 1 || re.Field != tt.field || re.Table != "telemetry" {
				t.Errorf("RowError = %+v, want index 1 field %s", re, tt.field)
			}
		})
	}
	if n := count(t, s, "SELECT count() FROM telemetry"); n != 0 {
		t.Errorf("%d rows written by rejected batches", n)
	}

	t.Run("events", func(t *testing.T) {
		ev := EventRow{City: "c", Gateway: "g", Seq: 1, Vehicle: "v", Time: day0, Kind: "k", Details: "{not json"}
		if err := s.InsertEvents(ctx, []EventRow{ev}); !errors.Is(err, ErrInvalidRow) {
			t.Errorf("details not JSON: %v", err)
		}
		ev.Details, ev.Kind = "", ""
		if err := s.InsertEvents(ctx, []EventRow{ev}); !errors.Is(err, ErrInvalidRow) {
			t.Errorf("empty kind: %v", err)
		}
	})
	t.Run("commands", func(t *testing.T) {
		c := CommandRow{City: "c", Gateway: "g", Seq: 1, Vehicle: "v", Time: day0, Outcome: "acked", Fields: "[1,"}
		if err := s.InsertCommands(ctx, []CommandRow{c}); !errors.Is(err, ErrInvalidRow) {
			t.Errorf("fields not JSON: %v", err)
		}
		c.Fields, c.Outcome = "", ""
		if err := s.InsertCommands(ctx, []CommandRow{c}); !errors.Is(err, ErrInvalidRow) {
			t.Errorf("empty outcome: %v", err)
		}
	})
	t.Run("empty batches are no-ops", func(t *testing.T) {
		if err := s.InsertTelemetry(ctx, nil); err != nil {
			t.Error(err)
		}
		if err := s.InsertEvents(ctx, nil); err != nil {
			t.Error(err)
		}
		if err := s.InsertCommands(ctx, nil); err != nil {
			t.Error(err)
		}
	})
}

func TestQueryValidation(t *testing.T) {
	ctx := testCtx(t)
	s := newStore(t, true)
	ok := Window{day0, day0.Add(time.Hour)}
	tests := []struct {
		name string
		city string
		w    Window
	}{
		{"empty city", "", ok},
		{"zero window", "madrid", Window{}},
		{"inverted window", "madrid", Window{ok.To, ok.From}},
		{"empty window", "madrid", Window{ok.From, ok.From}},
		{"before 1970", "madrid", Window{time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), ok.To}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := map[string]func() error{
				"LatestPositions":     func() error { _, err := s.LatestPositions(ctx, tt.city, tt.w); return err },
				"TelemetryCounts":     func() error { _, err := s.TelemetryCounts(ctx, tt.city, tt.w); return err },
				"Route":               func() error { _, err := s.Route(ctx, tt.city, "v1", tt.w); return err },
				"BatteryDistribution": func() error { _, err := s.BatteryDistribution(ctx, tt.city, tt.w); return err },
				"EventCounts":         func() error { _, err := s.EventCounts(ctx, tt.city, tt.w); return err },
				"VehicleEvents":       func() error { _, err := s.VehicleEvents(ctx, tt.city, "v1", tt.w); return err },
				"VehicleCommands":     func() error { _, err := s.VehicleCommands(ctx, tt.city, "v1", tt.w); return err },
				"CommandStats":        func() error { _, err := s.CommandStats(ctx, tt.city, tt.w); return err },
				"MovingPerHour":       func() error { _, err := s.MovingVehiclesPerHour(ctx, tt.city, tt.w); return err },
			}
			for name, call := range calls {
				if err := call(); !errors.Is(err, ErrInvalidQuery) {
					t.Errorf("%s = %v, want ErrInvalidQuery", name, err)
				}
			}
		})
	}
	if _, err := s.Route(ctx, "madrid", "", ok); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("Route with empty vehicle = %v, want ErrInvalidQuery", err)
	}
	// Hostile strings are bound, not spliced: the query runs and finds nothing.
	got, err := s.TelemetryCounts(ctx, "x' OR 1=1 --", ok)
	if err != nil || len(got) != 0 {
		t.Errorf("TelemetryCounts(hostile city) = %v, %v", got, err)
	}
}

func TestDropPartitionsBefore(t *testing.T) {
	ctx := testCtx(t)
	s := newStore(t, true)
	var (
		tel []TelemetryRow
		ev  []EventRow
		cmd []CommandRow
	)
	for d := range 3 {
		at := day0.Add(time.Duration(d)*24*time.Hour + 12*time.Hour)
		for i := range 5 {
			seq := uint64(d*10 + i)
			tel = append(tel, fix("gw1", seq, "v1", time.Duration(d)*24*time.Hour+time.Duration(i)*time.Minute, 40, -3, 80))
			ev = append(ev, EventRow{City: "madrid", Gateway: "gw1", Seq: seq, Vehicle: "v1", Time: at, Kind: "k"})
			cmd = append(cmd, CommandRow{City: "madrid", Gateway: "gw1", Seq: seq, Vehicle: "v1", Time: at, Outcome: "acked"})
		}
	}
	if err := s.InsertTelemetry(ctx, tel); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertEvents(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertCommands(ctx, cmd); err != nil {
		t.Fatal(err)
	}

	// The cut is a date: any time on the third day keeps that day whole.
	dropped, err := s.DropPartitionsBefore(ctx, day0.Add(2*24*time.Hour+23*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var want []DroppedPartition
	for _, table := range []string{"commands", "events", "telemetry"} {
		want = append(want, DroppedPartition{table, "20261120"}, DroppedPartition{table, "20261121"})
	}
	if !reflect.DeepEqual(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	for _, table := range []string{"telemetry", "events", "commands"} {
		if n := count(t, s, fmt.Sprintf("SELECT count() FROM %s", table)); n != 5 {
			t.Errorf("%s keeps %d rows, want the third day's 5", table, n)
		}
		if n := count(t, s, fmt.Sprintf("SELECT count() FROM %s WHERE toDate(time) = '2026-11-22'", table)); n != 5 {
			t.Errorf("%s lost rows of the kept day", table)
		}
	}
	again, err := s.DropPartitionsBefore(ctx, day0.Add(2*24*time.Hour))
	if err != nil || len(again) != 0 {
		t.Errorf("second DropPartitionsBefore = %v, %v; want nothing dropped", again, err)
	}
	if _, err := s.DropPartitionsBefore(ctx, time.Time{}); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("zero day = %v, want ErrInvalidQuery", err)
	}
}

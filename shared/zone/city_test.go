package zone

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// testdata/city-geofencing_zones.json, in precedence order:
//
//	0 newyear-plaza   no_ride, alarm, 2026-12-31T20:00+01:00 .. 2027-01-01T04:00+01:00, all false, 0 km/h
//	1 plaza-mayor     no_ride, alarm: all false
//	2 parking-sol     parking: all true
//	3 nightlife       no_parking, fri+sat 22:00-06:00 Europe/Madrid: through only
//	4 old-town        slow: scooter start/through 10 km/h; others 15 km/h, station_parking false
//	5 operating-area  start/through 25 km/h; hole (a lake); a second polygon
//	global            scooter through only 6 km/h; others through only
var (
	ptPlaza     = orb.Point{-3.7025, 40.4175}
	ptParking   = orb.Point{-3.6945, 40.4255}
	ptOldTown   = orb.Point{-3.708, 40.428}
	ptArea      = orb.Point{-3.72, 40.45}
	ptArea2     = orb.Point{-3.635, 40.385}
	ptLake      = orb.Point{-3.685, 40.405}
	ptOutside   = orb.Point{-3.80, 40.42}
	ptNightlife = orb.Point{-3.6575, 40.4425}
)

func madrid(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	return loc
}

func TestCityRules(t *testing.T) {
	s := loadTestdata(t, "city-geofencing_zones.json", Options{})
	if s.Location().String() != "Europe/Madrid" {
		t.Fatalf("Location = %v", s.Location())
	}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("Warnings = %q", w)
	}
	mad := madrid(t)
	wedNoon := time.Date(2026, 11, 25, 12, 0, 0, 0, mad)
	friNight := time.Date(2026, 11, 27, 23, 0, 0, 0, mad)
	newYear := time.Date(2026, 12, 31, 23, 59, 0, 0, mad)

	type want struct {
		start, end, through bool
		rulesFrom           Source
		speed               int
		speedFrom           Source
		parking             bool
		parkingFrom         Source
		containing          []int
		alarm               bool
	}
	tests := []struct {
		name string
		p    orb.Point
		vt   string
		at   time.Time
		want want
	}{
		{"plaza/scooter: booleans from no-ride, speed from old town", ptPlaza, "scooter", wedNoon,
			want{false, false, false, 1, 10, 4, false, SourceNone, []int{1, 4, 5}, true}},
		{"plaza/bike: old town's catch-all rule", ptPlaza, "bike", wedNoon,
			want{false, false, false, 1, 15, 4, false, 4, []int{1, 4, 5}, true}},
		{"parking/scooter: end allowed, speed from old town", ptParking, "scooter", wedNoon,
			want{true, true, true, 2, 10, 4, false, SourceNone, []int{2, 4, 5}, false}},
		{"old town/scooter", ptOldTown, "scooter", wedNoon,
			want{true, false, true, 4, 10, 4, false, SourceNone, []int{4, 5}, false}},
		{"operating area", ptArea, "scooter", wedNoon,
			want{true, false, true, 5, 25, 5, false, SourceNone, []int{5}, false}},
		{"operating area, second polygon", ptArea2, "scooter", wedNoon,
			want{true, false, true, 5, 25, 5, false, SourceNone, []int{5}, false}},
		{"lake (hole)/scooter: global rules", ptLake, "scooter", wedNoon,
			want{false, false, true, SourceGlobal, 6, SourceGlobal, false, SourceNone, nil, false}},
		{"lake (hole)/bike: second global rule, no speed", ptLake, "bike", wedNoon,
			want{false, false, true, SourceGlobal, -1, SourceNone, false, SourceNone, nil, false}},
		{"outside/scooter", ptOutside, "scooter", wedNoon,
			want{false, false, true, SourceGlobal, 6, SourceGlobal, false, SourceNone, nil, false}},
		{"nightlife on a Wednesday: not scheduled", ptNightlife, "scooter", wedNoon,
			want{true, false, true, 5, 25, 5, false, SourceNone, []int{5}, false}},
		{"nightlife on Friday night", ptNightlife, "scooter", friNight,
			want{false, false, true, 3, 25, 5, false, SourceNone, []int{3, 5}, false}},
		{"plaza on New Year's Eve: event zone first", ptPlaza, "scooter", newYear,
			want{false, false, false, 0, 0, 0, false, SourceNone, []int{0, 1, 4, 5}, true}},
		{"old town on New Year's Eve", ptOldTown, "bike", newYear,
			want{false, false, false, 0, 0, 0, false, 4, []int{0, 4, 5}, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := s.Evaluate(tc.p, tc.vt, tc.at)
			w := tc.want
			if v.RideStartAllowed != w.start || v.RideEndAllowed != w.end || v.RideThroughAllowed != w.through {
				t.Errorf("start/end/through = %v/%v/%v, want %v/%v/%v",
					v.RideStartAllowed, v.RideEndAllowed, v.RideThroughAllowed, w.start, w.end, w.through)
			}
			if v.RulesFrom != w.rulesFrom {
				t.Errorf("RulesFrom = %d, want %d", v.RulesFrom, w.rulesFrom)
			}
			if gotSpeed := map[bool]int{true: v.MaxSpeedKPH, false: -1}[v.SpeedLimited]; gotSpeed != w.speed || v.SpeedFrom != w.speedFrom {
				t.Errorf("speed = %d from %d, want %d from %d", gotSpeed, v.SpeedFrom, w.speed, w.speedFrom)
			}
			if v.StationParking != w.parking || v.ParkingFrom != w.parkingFrom {
				t.Errorf("station parking = %v from %d, want %v from %d", v.StationParking, v.ParkingFrom, w.parking, w.parkingFrom)
			}
			if !sameInts(v.Containing, w.containing) {
				t.Errorf("Containing = %v, want %v", v.Containing, w.containing)
			}
			if v.Alarm != w.alarm {
				t.Errorf("Alarm = %v, want %v", v.Alarm, w.alarm)
			}
			if b := s.evaluateBrute(tc.p, tc.vt, tc.at); !verdictEqual(b, v) {
				t.Errorf("brute force = %+v, indexed = %+v", b, v)
			}
		})
	}
}

func TestCityExtensions(t *testing.T) {
	s := loadTestdata(t, "city-geofencing_zones.json", Options{})
	want := []struct {
		id    string
		kind  Kind
		alarm bool
	}{
		{"newyear-plaza", KindNoRide, true},
		{"plaza-mayor", KindNoRide, true},
		{"parking-sol", KindParking, false},
		{"nightlife", KindNoParking, false},
		{"old-town", KindSlow, false},
		{"operating-area", KindOperatingArea, false},
	}
	for i, w := range want {
		z, err := s.Zone(i)
		if err != nil {
			t.Fatal(err)
		}
		if z.ID != w.id || z.Kind != w.kind || z.AlarmOnEntry != w.alarm {
			t.Errorf("zone %d = %q %v alarm %v, want %q %v %v", i, z.ID, z.Kind, z.AlarmOnEntry, w.id, w.kind, w.alarm)
		}
		if j, ok := s.Lookup(w.id); !ok || j != i {
			t.Errorf("Lookup(%q) = %d, %v", w.id, j, ok)
		}
	}
	z, _ := s.Zone(3)
	if len(z.Schedule) != 1 || z.Schedule[0] != (Window{Days: 1<<time.Friday | 1<<time.Saturday, From: 22 * time.Hour, To: 6 * time.Hour}) {
		t.Errorf("schedule = %+v", z.Schedule)
	}
	if z.Name("es") != "Nightlife streets (es)" || z.Name("de") != "Nightlife streets" {
		t.Errorf("names: %q %q", z.Name("es"), z.Name("de"))
	}
	if KindSlow.String() != "slow" || Kind(99).String() != "unknown" {
		t.Errorf("Kind.String")
	}
}

func TestSchedule(t *testing.T) {
	mad := madrid(t)
	s := loadTestdata(t, "city-geofencing_zones.json", Options{})
	const nightlife, newYear = 3, 0
	tests := []struct {
		zone int
		at   time.Time
		want bool
	}{
		{nightlife, time.Date(2026, 11, 27, 21, 59, 59, 0, mad), false}, // Friday before
		{nightlife, time.Date(2026, 11, 27, 22, 0, 0, 0, mad), true},    // Friday start
		{nightlife, time.Date(2026, 11, 28, 5, 59, 59, 0, mad), true},   // Friday's window after midnight
		{nightlife, time.Date(2026, 11, 28, 6, 0, 0, 0, mad), false},    // end is exclusive
		{nightlife, time.Date(2026, 11, 28, 12, 0, 0, 0, mad), false},   // Saturday noon
		{nightlife, time.Date(2026, 11, 28, 23, 0, 0, 0, mad), true},    // Saturday night
		{nightlife, time.Date(2026, 11, 29, 1, 0, 0, 0, mad), true},     // Saturday's window, Sunday 01:00
		{nightlife, time.Date(2026, 11, 29, 22, 30, 0, 0, mad), false},  // Sunday not listed
		{nightlife, time.Date(2026, 11, 30, 1, 0, 0, 0, mad), false},    // Monday 01:00
		{nightlife, time.Date(2026, 11, 26, 23, 0, 0, 0, mad), false},   // Thursday night
		// Summer time: still wall clock (UTC+2).
		{nightlife, time.Date(2026, 7, 3, 22, 30, 0, 0, mad), true},
		{nightlife, time.Date(2026, 7, 3, 20, 30, 0, 0, time.UTC), true}, // = 22:30 Madrid
		{nightlife, time.Date(2026, 7, 3, 19, 30, 0, 0, time.UTC), false},
		{newYear, time.Date(2026, 12, 31, 19, 59, 59, 0, mad), false},
		{newYear, time.Date(2026, 12, 31, 20, 0, 0, 0, mad), true},
		{newYear, time.Date(2027, 1, 1, 3, 59, 59, 0, mad), true},
		{newYear, time.Date(2027, 1, 1, 4, 0, 0, 0, mad), false},
		{5, time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{99, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false},
	}
	for _, tc := range tests {
		if got := s.Active(tc.zone, tc.at); got != tc.want {
			t.Errorf("Active(%d, %v) = %v, want %v", tc.zone, tc.at, got, tc.want)
		}
	}

	// Options.Location overrides data.fleetedge.timezone: 21:30 UTC on a
	// Friday is 22:30 in Madrid (active) but 21:30 in UTC (not yet).
	at := time.Date(2026, 11, 27, 21, 30, 0, 0, time.UTC)
	if !s.Active(nightlife, at) {
		t.Error("Madrid schedule inactive at 22:30 local")
	}
	u := loadTestdata(t, "city-geofencing_zones.json", Options{Location: time.UTC})
	if u.Active(nightlife, at) {
		t.Error("UTC schedule active at 21:30")
	}
}

func TestWindowCovers(t *testing.T) {
	h := time.Hour
	tests := []struct {
		w    Window
		day  time.Weekday
		tod  time.Duration
		want bool
	}{
		{Window{AllDays, 0, 24 * h}, time.Sunday, 0, true},
		{Window{AllDays, 0, 24 * h}, time.Saturday, 24*h - 1, true},
		{Window{1 << time.Monday, 7 * h, 9 * h}, time.Monday, 7 * h, true},
		{Window{1 << time.Monday, 7 * h, 9 * h}, time.Monday, 9 * h, false},
		{Window{1 << time.Monday, 7 * h, 9 * h}, time.Tuesday, 8 * h, false},
		{Window{1 << time.Saturday, 22 * h, 2 * h}, time.Sunday, 1 * h, true}, // wraps the week
		{Window{1 << time.Saturday, 22 * h, 2 * h}, time.Saturday, 1 * h, false},
		{Window{1 << time.Sunday, 23 * h, 0}, time.Sunday, 23*h + 30*time.Minute, true}, // to 00:00
		{Window{1 << time.Sunday, 23 * h, 0}, time.Monday, 0, false},
	}
	for _, tc := range tests {
		if got := tc.w.covers(tc.day, tc.tod); got != tc.want {
			t.Errorf("%+v covers(%v, %v) = %v, want %v", tc.w, tc.day, tc.tod, got, tc.want)
		}
	}
}

func TestEnteredAlarmZones(t *testing.T) {
	s := loadTestdata(t, "city-geofencing_zones.json", Options{})
	mad := madrid(t)
	wed := time.Date(2026, 11, 25, 12, 0, 0, 0, mad)
	var prev, cur Verdict
	s.EvaluateInto(&prev, ptOldTown, "scooter", wed)
	s.EvaluateInto(&cur, ptPlaza, "scooter", wed)
	if got := s.EnteredAlarmZones(nil, prev.Containing, cur.Containing); !sameInts(got, []int{1}) {
		t.Errorf("old town -> plaza: %v, want [1]", got)
	}
	if got := s.EnteredAlarmZones(nil, cur.Containing, cur.Containing); len(got) != 0 {
		t.Errorf("plaza -> plaza: %v, want none", got)
	}
	if got := s.EnteredAlarmZones(nil, cur.Containing, prev.Containing); len(got) != 0 {
		t.Errorf("plaza -> old town: %v, want none", got)
	}
	ny := time.Date(2026, 12, 31, 22, 0, 0, 0, mad)
	var nyv Verdict
	s.EvaluateInto(&nyv, ptPlaza, "scooter", ny)
	if got := s.EnteredAlarmZones(nil, cur.Containing, nyv.Containing); !sameInts(got, []int{0}) {
		t.Errorf("plaza -> plaza during the event: %v, want [0]", got)
	}
	if got := s.EnteredAlarmZones(nil, nil, nyv.Containing); !sameInts(got, []int{0, 1}) {
		t.Errorf("nothing -> plaza during the event: %v, want [0 1]", got)
	}
}

// TestBareFeatureCollection loads the city's zones without the GBFS
// envelope.
func TestBareFeatureCollection(t *testing.T) {
	var doc struct {
		Data struct {
			Zones json.RawMessage `json:"geofencing_zones"`
		} `json:"data"`
	}
	if err := json.Unmarshal(readTestdata(t, "city-geofencing_zones.json"), &doc); err != nil {
		t.Fatal(err)
	}
	wed := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

	s, err := Load(doc.Data.Zones, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Meta().Bare || s.Len() != 6 || s.Location() != time.UTC {
		t.Errorf("Meta = %+v, Len %d, loc %v", s.Meta(), s.Len(), s.Location())
	}
	v := s.Evaluate(ptOutside, "scooter", wed)
	if !v.RideEndAllowed || v.RulesFrom != SourceNone {
		t.Errorf("outside without global rules = %+v, want unrestricted", v)
	}
	v = s.Evaluate(ptArea, "scooter", wed)
	if v.RulesFrom != 5 || v.MaxSpeedKPH != 25 {
		t.Errorf("operating area = %+v", v)
	}

	global := []Rule{{RideThroughAllowed: true, MaxSpeedKPH: 6, HasMaxSpeed: true}}
	s, err = Load(doc.Data.Zones, Options{GlobalRules: global})
	if err != nil {
		t.Fatal(err)
	}
	global[0].MaxSpeedKPH = 99 // Load copied the rules
	v = s.Evaluate(ptOutside, "scooter", wed)
	if v.RideEndAllowed || v.RulesFrom != SourceGlobal || v.MaxSpeedKPH != 6 {
		t.Errorf("outside with Options.GlobalRules = %+v", v)
	}
}

// TestEvaluateIntoReuses checks the hot path does not allocate.
func TestEvaluateIntoReuses(t *testing.T) {
	s := loadTestdata(t, "city-geofencing_zones.json", Options{})
	at := time.Date(2026, 11, 27, 23, 0, 0, 0, madrid(t))
	var v Verdict
	pts := []orb.Point{ptPlaza, ptParking, ptLake, ptOutside, ptNightlife}
	s.EvaluateInto(&v, ptPlaza, "scooter", at)
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range pts {
			s.EvaluateInto(&v, p, "scooter", at)
		}
	})
	if allocs != 0 {
		t.Errorf("EvaluateInto allocates %v times per run", allocs)
	}
}

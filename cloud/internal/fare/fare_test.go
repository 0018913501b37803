package fare

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func mins(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }

func TestCompute(t *testing.T) {
	base := Tariff{Currency: "EUR", UnlockFee: 100, PerMinute: 25}
	with := func(f func(*Tariff)) Tariff {
		tt := base
		f(&tt)
		return tt
	}
	zones := with(func(t *Tariff) {
		t.Surcharges = []Surcharge{{ZoneID: "center", PerMinute: 5, Fixed: 50}, {ZoneID: "airport", Fixed: 200}, {ZoneID: "night", PerMinute: 2}}
	})
	type line = Line
	tests := []struct {
		name       string
		tariff     Tariff
		ride       Ride
		wantRide   int
		wantPause  int
		wantAmount map[string]int64 // code → amount; every line must be listed
		wantTotal  int64
	}{
		{name: "10 min 30 s is 11 started minutes", tariff: base, ride: Ride{Start: t0, End: mins(10.5)},
			wantRide: 11, wantAmount: map[string]int64{"unlock": 100, "time": 275}, wantTotal: 375},
		{name: "exactly 10 min is 10", tariff: base, ride: Ride{Start: t0, End: mins(10)},
			wantRide: 10, wantAmount: map[string]int64{"unlock": 100, "time": 250}, wantTotal: 350},
		{name: "one second is a started minute", tariff: base, ride: Ride{Start: t0, End: at(1)},
			wantRide: 1, wantAmount: map[string]int64{"unlock": 100, "time": 25}, wantTotal: 125},
		{name: "zero-length ride pays the unlock", tariff: base, ride: Ride{Start: t0, End: t0},
			wantRide: 0, wantAmount: map[string]int64{"unlock": 100, "time": 0}, wantTotal: 100},
		{name: "pause 3.5 min", tariff: with(func(t *Tariff) { t.PausePerMinute = 10 }),
			ride:     Ride{Start: t0, End: mins(12), Pauses: []Interval{{mins(2), mins(5.5)}}},
			wantRide: 9, wantPause: 4, wantAmount: map[string]int64{"unlock": 100, "time": 225, "pause": 40}, wantTotal: 365},
		{name: "overlapping pauses merge, an open pause lasts to the end", tariff: with(func(t *Tariff) { t.PausePerMinute = 10 }),
			ride:     Ride{Start: t0, End: mins(10), Pauses: []Interval{{mins(2), mins(4)}, {mins(1), mins(3)}, {From: mins(9)}}},
			wantRide: 6, wantPause: 4, wantAmount: map[string]int64{"unlock": 100, "time": 150, "pause": 40}, wantTotal: 290},
		{name: "pause outside the ride is clipped", tariff: with(func(t *Tariff) { t.PausePerMinute = 10 }),
			ride:     Ride{Start: t0, End: mins(5), Pauses: []Interval{{mins(-5), mins(1)}, {mins(6), mins(8)}}},
			wantRide: 4, wantPause: 1, wantAmount: map[string]int64{"unlock": 100, "time": 100, "pause": 10}, wantTotal: 210},
		{name: "free pause still listed", tariff: base,
			ride:     Ride{Start: t0, End: mins(3), Pauses: []Interval{{mins(1), mins(2)}}},
			wantRide: 2, wantPause: 1, wantAmount: map[string]int64{"unlock": 100, "time": 50, "pause": 0}, wantTotal: 150},
		{name: "distance per started 100 m, rounded half up", tariff: with(func(t *Tariff) { t.PerKm = 33 }),
			ride:     Ride{Start: t0, End: mins(10), Route: Route{LengthM: 2345.4}},
			wantRide: 10, wantAmount: map[string]int64{"unlock": 100, "time": 250, "distance": 79}, wantTotal: 429},
		{name: "distance 2,000 m is 20 × 100 m", tariff: with(func(t *Tariff) { t.PerKm = 33 }),
			ride:     Ride{Start: t0, End: mins(10), Route: Route{LengthM: 2000.4}},
			wantRide: 10, wantAmount: map[string]int64{"unlock": 100, "time": 250, "distance": 66}, wantTotal: 416},
		{name: "distance 2,050 m: 21 × 3.3 = 69.3", tariff: with(func(t *Tariff) { t.PerKm = 33 }),
			ride:     Ride{Start: t0, End: mins(10), Route: Route{LengthM: 2050}},
			wantRide: 10, wantAmount: map[string]int64{"unlock": 100, "time": 250, "distance": 69}, wantTotal: 419},
		{name: "zone surcharges: fixed at start, started minutes inside", tariff: zones,
			ride: Ride{Start: t0, End: mins(10), StartZones: []string{"center"},
				ZoneMinutes: map[string]float64{"center": 3.2, "night": 2.0000001, "unknown": 5}},
			wantRide: 10, wantAmount: map[string]int64{"unlock": 100, "time": 250, "surcharge:center": 70, "surcharge:night": 4}, wantTotal: 424},
		{name: "zone minutes capped at ride minutes, fixed charged once", tariff: zones,
			ride: Ride{Start: t0, End: mins(5), StartZones: []string{"center", "airport"}, EndZones: []string{"center"},
				ZoneMinutes: map[string]float64{"center": 7}},
			wantRide: 5, wantAmount: map[string]int64{"unlock": 100, "time": 125, "surcharge:center": 75, "surcharge:airport": 200}, wantTotal: 500},
		{name: "out-of-zone fine", tariff: with(func(t *Tariff) { t.OutOfZoneFine = 500 }),
			ride:     Ride{Start: t0, End: mins(10), OutOfZoneEnd: true},
			wantRide: 10, wantAmount: map[string]int64{"unlock": 100, "time": 250, "fine": 500}, wantTotal: 850},
		{name: "everything", tariff: with(func(t *Tariff) {
			t.PerKm, t.PausePerMinute, t.OutOfZoneFine = 20, 5, 300
			t.Surcharges = []Surcharge{{ZoneID: "center", PerMinute: 10, Fixed: 30}}
		}),
			ride: Ride{Start: t0, End: mins(20), Pauses: []Interval{{mins(5), mins(7)}}, Route: Route{LengthM: 3001},
				EndZones: []string{"center"}, ZoneMinutes: map[string]float64{"center": 4.5}, OutOfZoneEnd: true},
			// riding 18 min = 450; 31 × 100 m × 2 = 62; pause 2 × 5 = 10; center 30 + 5 × 10 = 80; fine 300
			wantRide: 18, wantPause: 2,
			wantAmount: map[string]int64{"unlock": 100, "time": 450, "distance": 62, "pause": 10, "surcharge:center": 80, "fine": 300}, wantTotal: 1002},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Compute(tc.tariff, tc.ride)
			if err != nil {
				t.Fatal(err)
			}
			if b.RideMinutes != tc.wantRide || b.PauseMinutes != tc.wantPause {
				t.Errorf("minutes ride %d pause %d, want %d, %d", b.RideMinutes, b.PauseMinutes, tc.wantRide, tc.wantPause)
			}
			if b.Total != tc.wantTotal || b.Currency != tc.tariff.Currency {
				t.Errorf("total %d %s, want %d", b.Total, b.Currency, tc.wantTotal)
			}
			got := map[string]int64{}
			for _, l := range b.Lines {
				if _, dup := got[l.Code]; dup {
					t.Errorf("line %s twice", l.Code)
				}
				if l.Description == "" {
					t.Errorf("line %s without description", l.Code)
				}
				got[l.Code] = l.Amount
			}
			if len(got) != len(tc.wantAmount) {
				t.Errorf("lines %v, want %v", got, tc.wantAmount)
			}
			for code, want := range tc.wantAmount {
				if g, ok := got[code]; !ok || g != want {
					t.Errorf("line %s = %d (present %v), want %d; all %v", code, g, ok, want, got)
				}
			}
			if b.Lines[0].Code != LineUnlock || b.Lines[1].Code != LineTime {
				t.Errorf("first lines %v", b.Lines[:2])
			}
		})
	}
}

func TestComputeErrors(t *testing.T) {
	ok := Tariff{Currency: "EUR", UnlockFee: 100, PerMinute: 25}
	ride := Ride{Start: t0, End: mins(10)}
	tests := []struct {
		name   string
		tariff Tariff
		ride   Ride
		want   error
	}{
		{"lower-case currency", Tariff{Currency: "eur"}, ride, ErrInvalidTariff},
		{"no currency", Tariff{}, ride, ErrInvalidTariff},
		{"negative unlock", Tariff{Currency: "EUR", UnlockFee: -1}, ride, ErrInvalidTariff},
		{"negative per km", Tariff{Currency: "EUR", PerKm: -1}, ride, ErrInvalidTariff},
		{"negative fine", Tariff{Currency: "EUR", OutOfZoneFine: -1}, ride, ErrInvalidTariff},
		{"surcharge without zone", Tariff{Currency: "EUR", Surcharges: []Surcharge{{Fixed: 1}}}, ride, ErrInvalidTariff},
		{"surcharge twice", Tariff{Currency: "EUR", Surcharges: []Surcharge{{ZoneID: "a"}, {ZoneID: "a"}}}, ride, ErrInvalidTariff},
		{"negative surcharge", Tariff{Currency: "EUR", Surcharges: []Surcharge{{ZoneID: "a", PerMinute: -3}}}, ride, ErrInvalidTariff},
		{"end before start", ok, Ride{Start: mins(10), End: t0}, ErrInvalidRide},
		{"no start", ok, Ride{End: t0}, ErrInvalidRide},
		{"a year and more", ok, Ride{Start: t0, End: t0.AddDate(1, 1, 0)}, ErrInvalidRide},
		{"pause ends before it starts", ok, Ride{Start: t0, End: mins(10), Pauses: []Interval{{mins(3), mins(2)}}}, ErrInvalidRide},
		{"pause without start", ok, Ride{Start: t0, End: mins(10), Pauses: []Interval{{To: mins(2)}}}, ErrInvalidRide},
		{"NaN length", ok, Ride{Start: t0, End: mins(10), Route: Route{LengthM: math.NaN()}}, ErrInvalidRide},
		{"negative length", ok, Ride{Start: t0, End: mins(10), Route: Route{LengthM: -1}}, ErrInvalidRide},
		{"infinite length", ok, Ride{Start: t0, End: mins(10), Route: Route{LengthM: math.Inf(1)}}, ErrInvalidRide},
		{"NaN zone minutes", Tariff{Currency: "EUR", Surcharges: []Surcharge{{ZoneID: "a"}}},
			Ride{Start: t0, End: mins(10), ZoneMinutes: map[string]float64{"a": math.NaN()}}, ErrInvalidRide},
		{"negative zone minutes", Tariff{Currency: "EUR", Surcharges: []Surcharge{{ZoneID: "a"}}},
			Ride{Start: t0, End: mins(10), ZoneMinutes: map[string]float64{"a": -1}}, ErrInvalidRide},
		{"unlock overflows the sum", Tariff{Currency: "EUR", UnlockFee: math.MaxInt64, PerMinute: 1}, ride, ErrOverflow},
		{"per-minute product overflows", Tariff{Currency: "EUR", PerMinute: math.MaxInt64 / 5}, ride, ErrOverflow},
		{"distance product overflows", Tariff{Currency: "EUR", PerKm: math.MaxInt64 / 1000},
			Ride{Start: t0, End: mins(1), Route: Route{LengthM: 1e6}}, ErrOverflow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Compute(tc.tariff, tc.ride)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v (breakdown %+v)", err, tc.want, b)
			}
		})
	}
}

// TestComputeProperties: for any valid tariff and ride, the lines sum to
// the total, the minutes are the started minutes of riding and pause, and
// riding longer never costs less.
func TestComputeProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		price := rapid.Int64Range(0, 1_000_000)
		ids := []string{"a", "b", "c", "d"}
		tariff := Tariff{
			Currency:       rapid.SampledFrom([]string{"EUR", "USD", "JPY"}).Draw(rt, "currency"),
			UnlockFee:      price.Draw(rt, "unlock"),
			PerMinute:      price.Draw(rt, "per_minute"),
			PerKm:          price.Draw(rt, "per_km"),
			PausePerMinute: price.Draw(rt, "pause"),
			OutOfZoneFine:  price.Draw(rt, "fine"),
		}
		for _, id := range rapid.SliceOfDistinct(rapid.SampledFrom(ids), func(s string) string { return s }).Draw(rt, "surcharged") {
			tariff.Surcharges = append(tariff.Surcharges, Surcharge{ZoneID: id, PerMinute: price.Draw(rt, "zone_pm"), Fixed: price.Draw(rt, "zone_fixed")})
		}
		dur := time.Duration(rapid.Int64Range(0, int64(10*time.Hour)).Draw(rt, "duration"))
		ride := Ride{
			Start:        t0,
			End:          t0.Add(dur),
			Route:        Route{LengthM: rapid.Float64Range(0, 1e5).Draw(rt, "length")},
			StartZones:   rapid.SliceOfN(rapid.SampledFrom(ids), 0, 3).Draw(rt, "start_zones"),
			EndZones:     rapid.SliceOfN(rapid.SampledFrom(ids), 0, 3).Draw(rt, "end_zones"),
			OutOfZoneEnd: rapid.Bool().Draw(rt, "out_of_zone"),
			ZoneMinutes:  map[string]float64{},
		}
		for _, id := range ids {
			ride.ZoneMinutes[id] = rapid.Float64Range(0, 700).Draw(rt, "zone_minutes")
		}
		for range rapid.IntRange(0, 4).Draw(rt, "pauses") {
			from := t0.Add(time.Duration(rapid.Int64Range(-int64(time.Hour), int64(dur+time.Hour)).Draw(rt, "pause_from")))
			p := Interval{From: from}
			if rapid.Bool().Draw(rt, "pause_closed") {
				p.To = from.Add(time.Duration(rapid.Int64Range(0, int64(3*time.Hour)).Draw(rt, "pause_len")))
			}
			ride.Pauses = append(ride.Pauses, p)
		}

		b, err := Compute(tariff, ride)
		if err != nil {
			rt.Fatalf("Compute: %v", err)
		}
		var sum int64
		for _, l := range b.Lines {
			if l.Amount < 0 {
				rt.Fatalf("negative line %+v", l)
			}
			sum += l.Amount
		}
		if sum != b.Total {
			rt.Fatalf("lines sum to %d, total %d: %+v", sum, b.Total, b.Lines)
		}
		paused := bruteForcePause(ride)
		riding := dur - paused
		if !startedMinutesOf(b.RideMinutes, riding) || !startedMinutesOf(b.PauseMinutes, paused) {
			rt.Fatalf("minutes ride %d pause %d for riding %v paused %v", b.RideMinutes, b.PauseMinutes, riding, paused)
		}
		if b.Total < tariff.UnlockFee || (ride.OutOfZoneEnd && b.Total < tariff.UnlockFee+tariff.OutOfZoneFine) {
			rt.Fatalf("total %d below unlock/fine", b.Total)
		}

		longer := ride
		longer.End = ride.End.Add(time.Duration(rapid.Int64Range(0, int64(time.Hour)).Draw(rt, "extra")))
		longer.Route.LengthM += rapid.Float64Range(0, 1000).Draw(rt, "extra_m")
		b2, err := Compute(tariff, longer)
		if err != nil {
			rt.Fatalf("Compute longer: %v", err)
		}
		if b2.Total < b.Total {
			rt.Fatalf("a longer ride costs %d < %d", b2.Total, b.Total)
		}
	})
}

func startedMinutesOf(m int, d time.Duration) bool {
	return time.Duration(m)*time.Minute >= d && (m == 0 || time.Duration(m-1)*time.Minute < d)
}

// bruteForcePause counts paused time second by second… at millisecond
// resolution would be slow; instead walk the sorted boundaries.
func bruteForcePause(r Ride) time.Duration {
	var cuts []time.Time
	cuts = append(cuts, r.Start, r.End)
	for _, p := range r.Pauses {
		to := p.To
		if to.IsZero() {
			to = r.End
		}
		cuts = append(cuts, p.From, to)
	}
	slices.SortFunc(cuts, func(a, b time.Time) int { return a.Compare(b) })
	var total time.Duration
	for i := 1; i < len(cuts); i++ {
		a, b := cuts[i-1], cuts[i]
		if !b.After(a) || a.Before(r.Start) || b.After(r.End) {
			continue
		}
		for _, p := range r.Pauses {
			to := p.To
			if to.IsZero() {
				to = r.End
			}
			if !a.Before(p.From) && !b.After(to) {
				total += b.Sub(a)
				break
			}
		}
	}
	return total
}

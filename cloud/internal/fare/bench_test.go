package fare

import "testing"

// BenchmarkRebuild30Min: a 30-minute ride at one fix every 3 s (600 fixes,
// ~4 m noise, a wild fix every 97) rebuilt with the default options.
func BenchmarkRebuild30Min(b *testing.B) {
	fixes := noisyRide(1)
	r := Rebuild(fixes, RouteOptions{})
	b.ReportMetric(float64(r.Dropped), "dropped")
	b.ReportAllocs()
	for b.Loop() {
		Rebuild(fixes, RouteOptions{})
	}
}

func BenchmarkCompute(b *testing.B) {
	t := Tariff{Currency: "EUR", UnlockFee: 100, PerMinute: 25, PerKm: 10, PausePerMinute: 5, OutOfZoneFine: 500,
		Surcharges: []Surcharge{{ZoneID: "center", PerMinute: 5, Fixed: 50}, {ZoneID: "airport", Fixed: 200}}}
	r := Ride{Start: t0, End: mins(30), Pauses: []Interval{{mins(5), mins(8)}}, Route: Route{LengthM: 6500},
		StartZones: []string{"center"}, ZoneMinutes: map[string]float64{"center": 7.5}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(t, r); err != nil {
			b.Fatal(err)
		}
	}
}

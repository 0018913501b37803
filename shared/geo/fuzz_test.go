package geo

import (
	"math"
	"math/rand/v2"
	"testing"
)

// halfCircumference bounds every shortest geodesic on WGS84 (the
// meridional path between antipodes on the equator).
const halfCircumference = 2 * 10001965.729312709

// checkInverseDirect asserts the invariants of a valid inverse problem:
// distance in [0, half circumference], finite azimuths in range, and the
// direct problem from (point 1, azi1, s12) landing on point 2.
func checkInverseDirect(t *testing.T, lat1, lon1, lat2, lon2 float64) {
	t.Helper()
	s12, azi1, azi2 := Inverse(lat1, lon1, lat2, lon2)
	if !(s12 >= 0 && s12 <= halfCircumference+1e-6) {
		t.Fatalf("Inverse(%v, %v, %v, %v): s12 = %v", lat1, lon1, lat2, lon2, s12)
	}
	if !(math.Abs(azi1) <= 180 && math.Abs(azi2) <= 180) {
		t.Fatalf("Inverse(%v, %v, %v, %v): azimuths %v, %v", lat1, lon1, lat2, lon2, azi1, azi2)
	}
	rs, _, _ := Inverse(lat2, lon2, lat1, lon1)
	if math.Abs(rs-s12) > 1e-7 {
		t.Fatalf("Inverse(%v, %v, %v, %v) = %v but reversed %v", lat1, lon1, lat2, lon2, s12, rs)
	}
	lat, lon, dazi2 := Direct(lat1, lon1, azi1, s12)
	if d := positionError(lat2, lon2, lat, lon); !(d <= 1e-6) {
		t.Fatalf("Inverse(%v, %v, %v, %v) = %v %v %v; Direct lands at %v %v (%.3g m off)",
			lat1, lon1, lat2, lon2, s12, azi1, azi2, lat, lon, d)
	}
	// The azimuth at point 2 is defined only away from the poles.
	if math.Abs(lat2) < 89.9 && s12 > 1e-3 && azDiff(dazi2, azi2) > 1e-6 {
		t.Fatalf("Inverse(%v, %v, %v, %v): azi2 %v, Direct azi2 %v", lat1, lon1, lat2, lon2, azi2, dazi2)
	}
}

// TestInverseDirectRandom runs the invariants over random point pairs,
// near and far.
func TestInverseDirectRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 20000 {
		lat1 := 180*rng.Float64() - 90
		lon1 := 360*rng.Float64() - 180
		var lat2, lon2 float64
		switch i % 4 {
		case 0: // anywhere
			lat2, lon2 = 180*rng.Float64()-90, 360*rng.Float64()-180
		case 1: // near, scooter scale
			lat2 = math.Max(-90, math.Min(90, lat1+0.02*(rng.Float64()-0.5)))
			lon2 = lon1 + 0.02*(rng.Float64()-0.5)
		case 2: // nearly antipodal
			lat2 = math.Max(-90, math.Min(90, -lat1+2*(rng.Float64()-0.5)))
			lon2 = lon1 + 180 + 2*(rng.Float64()-0.5)
		default: // exactly antipodal or on special lines
			lat2, lon2 = -lat1, lon1+180
			if rng.IntN(2) == 0 {
				lat1, lat2 = 0, 0
			}
		}
		checkInverseDirect(t, lat1, lon1, lat2, lon2)
	}
}

// FuzzInverse: no panic for any input; NaN exactly for invalid input;
// the invariants of checkInverseDirect for valid input.
func FuzzInverse(f *testing.F) {
	f.Add(52.52, 13.405, 52.527, 13.418)
	f.Add(0.0, 0.0, 0.0, 180.0)
	f.Add(90.0, 0.0, -90.0, 0.0)
	f.Add(48.522876735459, 0.0, -48.52287673545898293, 179.599720456223079643)
	f.Add(1e-300, -1e-300, -0.0, 179.9999999)
	f.Add(math.NaN(), 0.0, 91.0, math.Inf(1))
	f.Fuzz(func(t *testing.T, lat1, lon1, lat2, lon2 float64) {
		valid := CheckLatLon(lat1, angNormalize(lon1)) == nil && CheckLatLon(lat2, angNormalize(lon2)) == nil &&
			!math.IsInf(lon1, 0) && !math.IsInf(lon2, 0)
		s12, _, _ := Inverse(lat1, lon1, lat2, lon2)
		if !valid {
			if !math.IsNaN(s12) {
				t.Fatalf("Inverse(%v, %v, %v, %v) = %v for invalid input, want NaN", lat1, lon1, lat2, lon2, s12)
			}
			return
		}
		checkInverseDirect(t, lat1, lon1, lat2, lon2)
	})
}

// FuzzDirect: no panic; finite, in-range output for valid input (lat1 in
// [-90, 90], finite lon1, azi1 and s12 up to 1e9 m); NaN for invalid
// latitudes.
func FuzzDirect(f *testing.F) {
	f.Add(52.52, 13.405, 37.5, 10e3)
	f.Add(90.0, 0.0, 180.0, 20e6)
	f.Add(0.0, 179.9, 90.0, -1e5)
	f.Add(-90.0, 0.0, 0.0, 1e9)
	f.Add(95.0, 0.0, 0.0, 1.0)
	f.Fuzz(func(t *testing.T, lat1, lon1, azi1, s12 float64) {
		lat2, lon2, azi2 := Direct(lat1, lon1, azi1, s12)
		finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
		if !(lat1 >= -90 && lat1 <= 90) {
			if !math.IsNaN(lat2) {
				t.Fatalf("Direct(%v, %v, %v, %v) lat2 = %v for invalid lat1, want NaN", lat1, lon1, azi1, s12, lat2)
			}
			return
		}
		if !finite(lon1) || !finite(azi1) || !finite(s12) || math.Abs(s12) > 1e9 {
			return
		}
		if !(math.Abs(lat2) <= 90 && math.Abs(lon2) <= 180 && math.Abs(azi2) <= 180) {
			t.Fatalf("Direct(%v, %v, %v, %v) = %v, %v, %v out of range", lat1, lon1, azi1, s12, lat2, lon2, azi2)
		}
	})
}

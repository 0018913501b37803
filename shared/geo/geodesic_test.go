package geo

import (
	"errors"
	"math"
	"testing"
)

func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol
}

// meridianArc integrates the meridional radius of curvature from lat1 to
// lat2 (degrees) with Simpson's rule: an independent check of meridional
// distances.
func meridianArc(lat1, lat2 float64) float64 {
	const n = 2000
	e2 := wgs84.e2
	m := func(lat float64) float64 {
		s := math.Sin(lat * degree)
		w := math.Sqrt(1 - e2*s*s)
		return WGS84A * (1 - e2) / (w * w * w)
	}
	h := (lat2 - lat1) / n
	sum := m(lat1) + m(lat2)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		sum += w * m(lat1+float64(i)*h)
	}
	return sum * h / 3 * degree
}

// Reference values: GeographicLib 2.x GeodSolve (WGS84) and the closed
// forms noted per case.
func TestInverseKnown(t *testing.T) {
	const quarterMeridian = 10001965.729312709 // WGS84 equator-to-pole distance
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		s12, azi1, azi2        float64
		azTol                  float64 // degrees; NaN: do not check azimuths
	}{
		// Coincident points get azimuth 180 north of the equator
		// (GeographicLib's convention); only the distance matters.
		{"coincident", 20.001, 0, 20.001, 0, 0, math.NaN(), math.NaN(), math.NaN()},
		{"coincident at pole", 90, 0, 90, 180, 0, math.NaN(), math.NaN(), math.NaN()},
		{"equator one degree", 0, 0, 0, 1, WGS84A * degree, 90, 90, 0},
		{"equator westwards", 0, 1, 0, 0, WGS84A * degree, -90, -90, 0},
		{"equator to pole", 0, 0, 90, 0, quarterMeridian, 0, 0, 0},
		{"pole to pole", -90, 0, 90, 0, 2 * quarterMeridian, 0, 0, 0},
		{"equatorial antipodes go over the pole", 0, 0, 0, 180, 2 * quarterMeridian, 0, 180, 0},
		{"meridian southwards", 10, 5, -10, 5, 2 * meridianArc(0, 10), 180, 180, 0},
		{"meridian across the pole", 80, 10, 85, -170, meridianArc(80, 90) + meridianArc(85, 90), 0, 180, 0},
		// Rounded GeographicLib results (its test suite, GeodSolve0, 33).
		{"JFK to CDG", 40.6, -73.8, 49.01666667, 2.55, 5853226, 53.47022, 111.59367, 0.5e-5},
		{"equator 179 degrees", 0, 0, 0, 179, 19926189, 90, 90, 0.5e-5},
		{"equator 179.5 degrees", 0, 0, 0, 179.5, 19980862, 55.96650, 124.03350, 0.5e-5},
		{"antipodes off the equator", 0, 0, 1, 180, 19893357, 0, 180, 0.5e-5},
		{"antipodes symmetric about the equator", 0.07476, 0, -0.07476, 180, 2 * quarterMeridian, 0, 180, 0},
		// Cases that tripped earlier GeographicLib versions (GeodSolve tests).
		{"antipodal near poles a", 88.202499451857, 0, -88.202499451857, 179.981022032992859592, 20003898.214, math.NaN(), math.NaN(), math.NaN()},
		{"antipodal near poles b", 89.262080389218, 0, -89.262080389218, 179.992207982775375662, 20003925.854, math.NaN(), math.NaN(), math.NaN()},
		{"antipodal near poles c", 89.333123580033, 0, -89.333123580032997687, 179.99295812360148422, 20003926.881, math.NaN(), math.NaN(), math.NaN()},
		{"volatile case", 56.320923501171, 0, -56.320923501171, 179.664747671772880215, 19993558.287, math.NaN(), math.NaN(), math.NaN()},
		{"visual studio case", 48.522876735459, 0, -48.52287673545898293, 179.599720456223079643, 19989144.774, math.NaN(), math.NaN(), math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s12, azi1, azi2 := Inverse(tc.lat1, tc.lon1, tc.lat2, tc.lon2)
			sTol := 0.5e-3 // the GeodSolve values have mm resolution
			if s12 > 1e6 && tc.s12 == math.Round(tc.s12) {
				sTol = 0.5 // rounded to the metre
			}
			if !near(s12, tc.s12, sTol) {
				t.Errorf("s12 = %.6f, want %.6f", s12, tc.s12)
			}
			if !math.IsNaN(tc.azTol) {
				if azDiff(azi1, tc.azi1) > tc.azTol || azDiff(azi2, tc.azi2) > tc.azTol {
					t.Errorf("azi1, azi2 = %.9f, %.9f, want %.9f, %.9f", azi1, azi2, tc.azi1, tc.azi2)
				}
			}
		})
	}
}

func TestInverseSymmetries(t *testing.T) {
	pts := [][4]float64{
		{52.52, 13.405, 48.8566, 2.3522},
		{-33.8688, 151.2093, 37.7749, -122.4194},
		{60.1699, 24.9384, 60.17, 24.939},
		{0, 179.9, 0.01, -179.95},
		{89.99, 0, 89.99, 120},
		{-45, 10, 45, -170.5},
	}
	for _, p := range pts {
		s, a1, a2 := Inverse(p[0], p[1], p[2], p[3])
		// Reversed direction: same length, azimuths turned round.
		rs, ra1, ra2 := Inverse(p[2], p[3], p[0], p[1])
		if !near(rs, s, 1e-8) || azDiff(ra1, a2+180) > 1e-9 || azDiff(ra2, a1+180) > 1e-9 {
			t.Errorf("%v reversed: %v %v %v vs %v %v %v", p, rs, ra1, ra2, s, a1, a2)
		}
		// Longitude shift invariance (including across the antimeridian).
		// Shifted longitudes are rounded differently, which moves the
		// points by up to ~1e-9 m: allow that in distance and azimuth.
		azTol := 1e-9 + 1e-8/s/degree
		for _, shift := range []float64{-360, -137.25, 90, 360} {
			ss, sa1, sa2 := Inverse(p[0], p[1]+shift, p[2], p[3]+shift)
			if !near(ss, s, 1e-8) || azDiff(sa1, a1) > azTol || azDiff(sa2, a2) > azTol {
				t.Errorf("%v shifted %v: %v %v %v vs %v %v %v", p, shift, ss, sa1, sa2, s, a1, a2)
			}
		}
		// Mirror in the equator: same length, azimuths mirrored.
		ms, ma1, ma2 := Inverse(-p[0], p[1], -p[2], p[3])
		if !near(ms, s, 1e-8) || azDiff(ma1, 180-a1) > 1e-9 || azDiff(ma2, 180-a2) > 1e-9 {
			t.Errorf("%v mirrored: %v %v %v vs %v %v %v", p, ms, ma1, ma2, s, a1, a2)
		}
		// Direct from the Inverse solution lands on point 2.
		lat2, lon2, dazi2 := Direct(p[0], p[1], a1, s)
		if d := positionError(p[2], p[3], lat2, lon2); d > 1e-6 || azDiff(dazi2, a2) > 1e-7 {
			t.Errorf("%v: Direct(Inverse) = %v %v %v, %.3g m off", p, lat2, lon2, dazi2, d)
		}
	}
}

func TestInverseAntimeridian(t *testing.T) {
	// 0.2 degrees of longitude across the antimeridian on the equator.
	s, a1, a2 := Inverse(0, 179.9, 0, -179.9)
	if !near(s, WGS84A*0.2*degree, 1e-6) || a1 != 90 || a2 != 90 {
		t.Errorf("got %v %v %v", s, a1, a2)
	}
	s2, _, _ := Inverse(10, -179.95, 10.01, 179.95)
	s3, _, _ := Inverse(10, 0.05, 10.01, -0.05)
	if !near(s2, s3, 1e-8) || s2 > 20e3 {
		t.Errorf("across antimeridian %v, at Greenwich %v", s2, s3)
	}
}

func TestInverseInvalid(t *testing.T) {
	nan := math.NaN()
	for _, in := range [][4]float64{
		{nan, 0, 0, 0}, {0, nan, 0, 0}, {0, 0, nan, 0}, {0, 0, 0, nan},
		{91, 0, 0, 0}, {0, 0, -90.5, 0}, {math.Inf(1), 0, 0, 0}, {0, math.Inf(-1), 0, 0},
	} {
		s, a1, a2 := Inverse(in[0], in[1], in[2], in[3])
		if !math.IsNaN(s) {
			t.Errorf("Inverse(%v) = %v %v %v, want NaN distance", in, s, a1, a2)
		}
	}
}

func TestDirectKnown(t *testing.T) {
	tests := []struct {
		name                  string
		lat1, lon1, azi1, s12 float64
		lat2, lon2, azi2      float64
	}{
		{"zero distance", 40, -75, 30, 0, 40, -75, 30},
		{"along equator", 0, 0, 90, WGS84A * degree, 0, 1, 90},
		{"equator across antimeridian", 0, 179.5, 90, WGS84A * degree, 0, -179.5, 90},
		{"north to the pole", 0, 10, 0, 10001965.729312709, 90, 10, 0},
		{"over the pole", 80, 10, 0, 2 * meridianArc(80, 90), 80, -170, 180},
		{"backwards", 0, 0, 90, -WGS84A * degree, 0, -1, 90},
		// GeographicLib test GeodSolve1, rounded to 0.5e-5 degrees.
		{"JFK towards CDG", 40.63972222, -73.77888889, 53.5, 5850e3, 49.01467, 2.56106, 111.62947},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lat2, lon2, azi2 := Direct(tc.lat1, tc.lon1, tc.azi1, tc.s12)
			tol := 1e-9
			if tc.name == "JFK towards CDG" {
				tol = 0.5e-5
			}
			if !near(lat2, tc.lat2, tol) || azDiff(lon2, tc.lon2) > tol || azDiff(azi2, tc.azi2) > tol {
				if tc.name == "north to the pole" && near(lat2, 90, 1e-9) {
					return // longitude and azimuth are conventions at the pole
				}
				t.Errorf("got %.12f %.12f %.12f, want %v %v %v", lat2, lon2, azi2, tc.lat2, tc.lon2, tc.azi2)
			}
		})
	}
}

func TestChecked(t *testing.T) {
	if _, _, _, err := InverseChecked(95, 0, 0, 0); err == nil {
		t.Fatal("InverseChecked accepted lat 95")
	} else if ce := new(CoordinateError); !errors.As(err, &ce) || ce.Field != "lat" {
		t.Fatalf("err = %v, want *CoordinateError on lat", err)
	}
	if _, _, _, err := InverseChecked(0, 0, 0, math.NaN()); !errors.Is(err, ErrInvalidCoordinate) {
		t.Fatalf("err = %v, want ErrInvalidCoordinate", err)
	}
	if s, _, _, err := InverseChecked(0, 0, 0, 1); err != nil || !near(s, WGS84A*degree, 1e-8) {
		t.Fatalf("InverseChecked valid: %v %v", s, err)
	}
	for _, in := range [][4]float64{{0, 181, 0, 1}, {0, 0, math.NaN(), 1}, {0, 0, 0, math.Inf(1)}} {
		if _, _, _, err := DirectChecked(in[0], in[1], in[2], in[3]); !errors.Is(err, ErrInvalidCoordinate) {
			t.Errorf("DirectChecked(%v) err = %v, want ErrInvalidCoordinate", in, err)
		}
	}
	if lat, lon, _, err := DirectChecked(0, 0, 90, WGS84A*degree); err != nil || !near(lat, 0, 1e-12) || !near(lon, 1, 1e-12) {
		t.Fatalf("DirectChecked valid: %v %v %v", lat, lon, err)
	}
}

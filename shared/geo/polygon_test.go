package geo

import (
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// square returns a closed counter-clockwise ring of the square
// [lon0, lon0+size] x [lat0, lat0+size].
func square(lon0, lat0, size float64) orb.Ring {
	return orb.Ring{{lon0, lat0}, {lon0 + size, lat0}, {lon0 + size, lat0 + size}, {lon0, lat0 + size}, {lon0, lat0}}
}

func reversed(r orb.Ring) orb.Ring {
	out := make(orb.Ring, len(r))
	for i, p := range r {
		out[len(r)-1-i] = p
	}
	return out
}

func TestContains(t *testing.T) {
	// A 1-degree square near Berlin with a hole in the middle.
	outer := square(13, 52, 1)
	hole := square(13.25, 52.25, 0.5)
	poly := orb.Polygon{outer, hole}
	unclosed := orb.Polygon{outer[:4], hole[:4]}
	clockwise := orb.Polygon{reversed(outer), reversed(hole)}
	tests := []struct {
		name string
		p    orb.Point
		want bool
	}{
		{"inside", orb.Point{13.1, 52.1}, true},
		{"in hole", orb.Point{13.5, 52.5}, false},
		{"outside east", orb.Point{14.1, 52.5}, false},
		{"outside west", orb.Point{12.9, 52.5}, false},
		{"outside north", orb.Point{13.5, 53.1}, false},
		{"on outer edge", orb.Point{13, 52.5}, true},
		{"on outer top edge", orb.Point{13.3, 53}, true},
		{"on outer vertex", orb.Point{14, 53}, true},
		{"on hole edge", orb.Point{13.25, 52.5}, true},
		{"on hole vertex", orb.Point{13.75, 52.75}, true},
		{"level with a vertex, inside", orb.Point{13.1, 52.25}, true},
		{"level with a vertex, outside", orb.Point{12.5, 52.25}, false},
		{"level with the top edge, outside", orb.Point{12.5, 53}, false},
		{"between hole and outer", orb.Point{13.9, 52.9}, true},
		{"NaN", orb.Point{math.NaN(), 52.5}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for name, pg := range map[string]orb.Polygon{"closed": poly, "unclosed": unclosed, "clockwise": clockwise} {
				if got := Contains(pg, tc.p); got != tc.want {
					t.Errorf("%s: Contains(%v) = %v, want %v", name, tc.p, got, tc.want)
				}
			}
			mp := orb.MultiPolygon{{square(0, 0, 1)}, poly}
			if got := ContainsMulti(mp, tc.p); got != tc.want {
				t.Errorf("ContainsMulti(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
	if Contains(nil, orb.Point{0, 0}) || Contains(orb.Polygon{{}}, orb.Point{0, 0}) || ContainsMulti(nil, orb.Point{0, 0}) {
		t.Error("empty geometry contains a point")
	}
}

// TestContainsConcave runs a concave ring whose vertices sit on the rays
// of the test points (the classic crossing-number pitfall) against orb's
// planar implementation for points off the boundary.
func TestContainsConcave(t *testing.T) {
	// A "W" shaped ring with vertices at lat 0, 1 and 2.
	ring := orb.Ring{{0, 0}, {4, 0}, {4, 2}, {3, 1}, {2, 2}, {1, 1}, {0, 2}, {0, 0}}
	poly := orb.Polygon{ring}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		p := orb.Point{-0.5 + 5*rng.Float64(), -0.5 + 3*rng.Float64()}
		if rng.IntN(4) == 0 {
			p[1] = float64(rng.IntN(3)) // exactly level with vertices
		}
		if onBoundary(ring, p) {
			continue
		}
		if got, want := Contains(poly, p), planar.PolygonContains(poly, p); got != want {
			t.Fatalf("Contains(%v) = %v, planar says %v", p, got, want)
		}
	}
	for _, p := range []orb.Point{{1, 1}, {2, 2}, {3.5, 1.5}, {0, 1}, {2, 0}} {
		if !Contains(poly, p) {
			t.Errorf("boundary point %v not contained", p)
		}
	}
	for _, p := range []orb.Point{{3, 1.5}, {1, 1.5}, {-1, 1}, {5, 2}, {0.5, 2}} {
		if Contains(poly, p) {
			t.Errorf("outside point %v contained", p)
		}
	}
}

func onBoundary(ring orb.Ring, p orb.Point) bool {
	_, on := ringContains(ring, p)
	return on
}

func TestTrackLength(t *testing.T) {
	if got := TrackLength(nil); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := TrackLength(orb.LineString{{13, 52}}); got != 0 {
		t.Errorf("one point: %v", got)
	}
	eq := orb.LineString{{0, 0}, {0.5, 0}, {1, 0}, {1, 0}}
	if got := TrackLength(eq); !near(got, WGS84A*degree, 1e-8) {
		t.Errorf("equator: %v, want %v", got, WGS84A*degree)
	}
	// Out and back along a meridian, across the antimeridian and back.
	ls := orb.LineString{{179.9, 10}, {-179.9, 10}, {-179.9, 10.1}, {179.9, 10}}
	want := Distance(ls[0], ls[1]) + Distance(ls[1], ls[2]) + Distance(ls[2], ls[3])
	if got := TrackLength(ls); got != want || got > 100e3 {
		t.Errorf("antimeridian track: %v, want %v", got, want)
	}
	if d := Distance(orb.Point{0, 0}, orb.Point{0, 90}); !near(d, 10001965.729312709, 1e-7) {
		t.Errorf("Distance equator to pole = %v", d)
	}
	if d := Distance(orb.Point{0, 0}, orb.Point{0, 91}); !math.IsNaN(d) {
		t.Errorf("Distance to invalid point = %v, want NaN", d)
	}
}

// edgeDistance returns the geodesic distance from p to the point at
// parameter t of edge a-b (straight in lon/lat).
func edgeDistance(p, a, b orb.Point, t float64) float64 {
	s, _, _ := Inverse(p[1], p[0], a[1]+t*(b[1]-a[1]), a[0]+t*(b[0]-a[0]))
	return s
}

// bruteDistancePoly returns the geodesic distance from p to the boundary
// of poly by brute force: a scan of every edge at 64 points, then a
// golden-section search along the three edges with the closest samples.
func bruteDistancePoly(p orb.Point, poly orb.Polygon) float64 {
	type cand struct {
		a, b orb.Point
		i    int // best sample
		d    float64
	}
	const n = 64
	var cands []cand
	for _, r := range poly {
		for i := range r {
			c := cand{a: r[i], b: r[(i+1)%len(r)], d: math.Inf(1)}
			for k := 0; k <= n; k++ {
				if d := edgeDistance(p, c.a, c.b, float64(k)/n); d < c.d {
					c.d, c.i = d, k
				}
			}
			cands = append(cands, c)
		}
	}
	slices.SortFunc(cands, func(x, y cand) int { return cmp.Compare(x.d, y.d) })
	best := math.Inf(1)
	for _, c := range cands[:min(3, len(cands))] {
		lo := math.Max(0, float64(c.i-1)/n)
		hi := math.Min(1, float64(c.i+1)/n)
		g := (math.Sqrt(5) - 1) / 2
		x1, x2 := hi-g*(hi-lo), lo+g*(hi-lo)
		f1, f2 := edgeDistance(p, c.a, c.b, x1), edgeDistance(p, c.a, c.b, x2)
		for range 70 {
			if f1 < f2 {
				hi, x2, f2 = x2, x1, f1
				x1 = hi - g*(hi-lo)
				f1 = edgeDistance(p, c.a, c.b, x1)
			} else {
				lo, x1, f1 = x1, x2, f2
				x2 = lo + g*(hi-lo)
				f2 = edgeDistance(p, c.a, c.b, x2)
			}
		}
		best = math.Min(best, math.Min(c.d, math.Min(f1, f2)))
	}
	return best
}

// randomPolygon returns a star-shaped ring of n vertices around (lon,
// lat) with radii up to rmax metres.
func randomPolygon(rng *rand.Rand, lon, lat, rmax float64, n int) orb.Polygon {
	ring := make(orb.Ring, 0, n+1)
	for i := range n {
		az := 360 * (float64(i) + 0.8*rng.Float64()) / float64(n)
		lat2, lon2, _ := Direct(lat, lon, az, rmax*(0.3+0.7*rng.Float64()))
		ring = append(ring, orb.Point{lon2, lat2})
	}
	ring = append(ring, ring[0])
	return orb.Polygon{ring}
}

// TestDistanceToBoundaryBruteForce checks the documented error of
// DistanceToBoundary against a brute-force search along each edge, for
// zones of different sizes and latitudes.
func TestDistanceToBoundaryBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		lat   float64
		rmax  float64 // zone radius, m
		limit float64 // asserted max error, m
	}{
		{0, 200, 1e-6},
		{48, 2000, 1e-6},
		{60, 10e3, 1e-6},
		{-70, 30e3, 1e-6},
		{80, 50e3, 1e-6},
	}
	for _, c := range cases {
		var maxErr, maxD float64
		for range 30 {
			lon := -170 + 340*rng.Float64()
			poly := randomPolygon(rng, lon, c.lat, c.rmax, 12)
			az := 360 * rng.Float64()
			// Points inside and outside, up to twice the zone radius away.
			plat, plon, _ := Direct(c.lat, lon, az, 2*c.rmax*rng.Float64())
			p := orb.Point{plon, plat}
			got := DistanceToBoundary(p, poly)
			want := bruteDistancePoly(p, poly)
			if got < want-1e-8 {
				t.Errorf("lat %v: got %.9f below brute force %.9f", c.lat, got, want)
			}
			maxErr = math.Max(maxErr, got-want)
			maxD = math.Max(maxD, want)
		}
		t.Logf("lat %v zone radius %v m: max error %.3g m at distances up to %.0f m", c.lat, c.rmax, maxErr, maxD)
		if maxErr > c.limit {
			t.Errorf("lat %v zone radius %v m: max error %.3g m > %g m", c.lat, c.rmax, maxErr, c.limit)
		}
	}
}

func TestDistanceToBoundary(t *testing.T) {
	outer := square(13, 52, 0.01)         // ~680 m x 1.1 km
	hole := square(13.004, 52.004, 0.002) // hole in the middle
	poly := orb.Polygon{outer, hole}
	tests := []struct {
		name string
		p    orb.Point
		want float64 // from the brute-force search unless NaN/Inf
	}{
		{"inside near west edge", orb.Point{13.0001, 52.005}, -1},
		{"inside near hole", orb.Point{13.0035, 52.005}, -1},
		{"in hole", orb.Point{13.005, 52.005}, -1},
		{"outside near corner", orb.Point{12.999, 51.999}, -1},
		{"on edge", orb.Point{13, 52.005}, 0},
		{"on vertex", orb.Point{13.01, 52.01}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DistanceToBoundary(tc.p, poly)
			want := tc.want
			if want < 0 {
				want = bruteDistancePoly(tc.p, poly)
			}
			if !near(got, want, 1e-6) {
				t.Errorf("got %.9f m, want %.9f m", got, want)
			}
			mp := orb.MultiPolygon{{square(20, 20, 1)}, poly}
			if gm := DistanceToBoundaryMulti(tc.p, mp); gm != got {
				t.Errorf("multi: %v, want %v", gm, got)
			}
		})
	}
	// The west edge is a meridian: distance = N cos(lat) * dlon closely.
	d := DistanceToBoundary(orb.Point{13.0001, 52.005}, poly)
	if want, _, _ := Inverse(52.005, 13.0001, 52.005, 13); !near(d, want, 1e-9) {
		t.Errorf("meridian edge: %v, want %v", d, want)
	}
	if d := DistanceToBoundary(orb.Point{13, 52}, nil); !math.IsInf(d, 1) {
		t.Errorf("empty polygon: %v, want +Inf", d)
	}
	if d := DistanceToBoundaryMulti(orb.Point{13, 52}, nil); !math.IsInf(d, 1) {
		t.Errorf("empty multipolygon: %v, want +Inf", d)
	}
	if d := DistanceToBoundary(orb.Point{math.NaN(), 52}, poly); !math.IsNaN(d) {
		t.Errorf("NaN point: %v, want NaN", d)
	}
}

func TestDistanceToBoundaryAntimeridian(t *testing.T) {
	// A zone just east of the antimeridian; p just west of it.
	poly := orb.Polygon{square(-179.999, -17, 0.01)}
	p := orb.Point{179.9995, -16.995}
	got := DistanceToBoundary(p, poly)
	want, _, _ := Inverse(-16.995, 179.9995, -16.995, -179.999)
	if !near(got, want, 1e-6) || got > 200 {
		t.Errorf("got %v m, want %v m", got, want)
	}
}

func TestCheckPolygon(t *testing.T) {
	tests := []struct {
		name string
		poly orb.Polygon
		ok   bool
	}{
		{"valid", orb.Polygon{square(13, 52, 1)}, true},
		{"valid unclosed", orb.Polygon{square(13, 52, 1)[:4]}, true},
		{"empty", nil, false},
		{"two vertices", orb.Polygon{{{0, 0}, {1, 1}, {0, 0}}}, false},
		{"bad latitude", orb.Polygon{{{0, 0}, {1, 95}, {1, 0}}}, false},
		{"NaN in hole", orb.Polygon{square(13, 52, 1), {{13.1, 52.1}, {math.NaN(), 52.2}, {13.2, 52.2}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPolygon(tc.poly)
			if tc.ok != (err == nil) {
				t.Fatalf("CheckPolygon = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidGeometry) {
				t.Fatalf("error %v is not ErrInvalidGeometry", err)
			}
		})
	}
	err := CheckPolygon(orb.Polygon{{{0, 0}, {1, 95}, {1, 0}}})
	if !errors.Is(err, ErrInvalidCoordinate) {
		t.Errorf("vertex error %v does not wrap ErrInvalidCoordinate", err)
	}
	if err := CheckPoint(orb.Point{181, 0}); !errors.Is(err, ErrInvalidCoordinate) {
		t.Errorf("CheckPoint(181, 0) = %v", err)
	}
}

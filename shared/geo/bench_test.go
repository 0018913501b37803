package geo

import (
	"testing"

	"github.com/paulmach/orb"
)

var benchSink float64

// BenchmarkInverseShort: a ~1 km geodesic in a city.
func BenchmarkInverseShort(b *testing.B) {
	var s float64
	for b.Loop() {
		s, _, _ = Inverse(52.5200, 13.4050, 52.5270, 13.4180)
	}
	benchSink = s
}

// BenchmarkInverseLong: a 10,000 km geodesic from Berlin (Newton
// iterations needed).
func BenchmarkInverseLong(b *testing.B) {
	lat2, lon2, _ := Direct(52.52, 13.405, 300, 10_000e3)
	var s float64
	for b.Loop() {
		s, _, _ = Inverse(52.52, 13.405, lat2, lon2)
	}
	if !near(s, 10_000e3, 1e-6) {
		b.Fatalf("s12 = %v", s)
	}
}

// BenchmarkInverseAntipodal: a nearly antipodal pair (astroid start).
func BenchmarkInverseAntipodal(b *testing.B) {
	var s float64
	for b.Loop() {
		s, _, _ = Inverse(48.522876735459, 0, -48.52287673545898293, 179.599720456223079643)
	}
	benchSink = s
}

func BenchmarkDirect(b *testing.B) {
	var lat float64
	for b.Loop() {
		lat, _, _ = Direct(52.52, 13.405, 37.5, 10e3)
	}
	benchSink = lat
}

// benchPolygon returns a 100-vertex zone of ~1 km radius.
func benchPolygon() orb.Polygon {
	ring := make(orb.Ring, 0, 101)
	for i := range 100 {
		r := 800.0 + 200*float64(i%7)/7
		lat, lon, _ := Direct(52.52, 13.405, 3.6*float64(i), r)
		ring = append(ring, orb.Point{lon, lat})
	}
	ring = append(ring, ring[0])
	return orb.Polygon{ring}
}

func BenchmarkContains100(b *testing.B) {
	poly := benchPolygon()
	p := orb.Point{13.41, 52.523}
	var in bool
	for b.Loop() {
		in = Contains(poly, p)
	}
	if !in {
		b.Fatal("point not in zone")
	}
}

func BenchmarkDistanceToBoundary100(b *testing.B) {
	poly := benchPolygon()
	p := orb.Point{13.41, 52.523}
	var d float64
	for b.Loop() {
		d = DistanceToBoundary(p, poly)
	}
	benchSink = d
}

package zone

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// worstCellPoint returns the centre of the cell whose partial entries
// carry the most polygon vertices: the most point-in-polygon work a single
// evaluation can meet in s.
func worstCellPoint(s *Set) (orb.Point, int) {
	g := &s.grid
	best, bestCell := -1, 0
	for c := 0; c < g.nx*g.ny; c++ {
		work := 0
		for _, e := range g.entries[g.start[c]:g.start[c+1]] {
			var mp orb.MultiPolygon
			switch {
			case e.clip >= 0:
				mp = g.clips[e.clip]
			case e.clip == clipWhole:
				mp = s.zones[e.zone].Geometry
			}
			for _, poly := range mp {
				for _, r := range poly {
					work += len(r)
				}
			}
		}
		if work > best {
			best, bestCell = work, c
		}
	}
	cx, cy := bestCell%g.nx, bestCell/g.nx
	return orb.Point{g.minX + (float64(cx)+0.5)*g.cellW, g.minY + (float64(cy)+0.5)*g.cellH}, best
}

// randomPoints draws points uniformly over the grid extent.
func randomPoints(s *Set, n int) []orb.Point {
	rng := rand.New(rand.NewPCG(1, 2))
	g := &s.grid
	pts := make([]orb.Point, n)
	for i := range pts {
		pts[i] = orb.Point{g.minX + (g.maxX-g.minX)*rng.Float64(), g.minY + (g.maxY-g.minY)*rng.Float64()}
	}
	return pts
}

type benchCase struct {
	name string
	p    orb.Point
	want int // zones containing p (checked before timing); -1: do not check
}

func benchEvaluate(b *testing.B, s *Set, vt string, cases []benchCase) {
	now := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC) // a Friday night: schedules in force
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			var v Verdict
			s.EvaluateInto(&v, bc.p, vt, now)
			if bc.want >= 0 && len(v.Containing) != bc.want {
				b.Fatalf("%v is in %d zones %v, want %d", bc.p, len(v.Containing), v.Containing, bc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.EvaluateInto(&v, bc.p, vt, now)
			}
		})
	}
	b.Run("random-points", func(b *testing.B) {
		pts := randomPoints(s, 4096)
		var v Verdict
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s.EvaluateInto(&v, pts[i&4095], vt, now)
			i++
		}
	})
}

func BenchmarkEvaluateParis(b *testing.B) {
	s := loadTestdata(b, "paris-geofencing_zones.json", Options{})
	z6, _ := s.Zone(6)
	z1, _ := s.Zone(1)
	worst, work := worstCellPoint(s)
	b.Logf("worst cell: %d vertices in partial zones", work)
	benchEvaluate(b, s, escoot, []benchCase{
		{"outside-extent", orb.Point{2.0, 48.0}, 0},
		{"in-extent-no-zone", orb.Point{2.6, 48.95}, 0},
		{"one-zone", orb.Point{2.6, 48.82}, 1},
		{"two-zones", interiorPoint(b, z1.Geometry[0]), 2},
		{"three-zones", interiorPoint(b, z6.Geometry[0]), 3},
		{"worst-cell", worst, -1},
	})
}

func BenchmarkEvaluateSynthetic500(b *testing.B) {
	city := newSyntheticCity(b, 500, 1)
	s, err := Load(city.doc, Options{})
	if err != nil {
		b.Fatal(err)
	}
	// A point in the operating area only.
	var one orb.Point
	var v Verdict
	for _, p := range randomPoints(s, 1000) {
		s.EvaluateInto(&v, p, "scooter", parisNow)
		if len(v.Containing) == 1 {
			one = p
			break
		}
	}
	worst, work := worstCellPoint(s)
	b.Logf("worst cell: %d vertices in partial zones; %+v", work, s.IndexStats())
	g := &s.grid
	benchEvaluate(b, s, "scooter", []benchCase{
		{"outside-extent", orb.Point{0, 0}, 0},
		{"in-extent-no-zone", orb.Point{g.minX + 1e-6, g.minY + 1e-6}, 0},
		{"one-zone", one, 1},
		{"several-zones", city.clusterAt, city.cluster + 1},
		{"worst-cell", worst, -1},
	})
}

// BenchmarkEvaluateBruteSynthetic500 is the same point tested against
// every zone without the grid, to show what the index buys.
func BenchmarkEvaluateBruteSynthetic500(b *testing.B) {
	city := newSyntheticCity(b, 500, 1)
	s, err := Load(city.doc, Options{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		s.evaluateBrute(city.clusterAt, "scooter", now)
	}
}

func BenchmarkLoad(b *testing.B) {
	city := newSyntheticCity(b, 500, 1)
	for _, bc := range []struct {
		name string
		doc  []byte
	}{
		{"paris", readTestdata(b, "paris-geofencing_zones.json")},
		{"synthetic500", city.doc},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Load(bc.doc, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDistanceToBoundaryParis(b *testing.B) {
	s := loadTestdata(b, "paris-geofencing_zones.json", Options{})
	z6, _ := s.Zone(6)
	p := interiorPoint(b, z6.Geometry[0])
	for _, zone := range []int{6, 271} {
		z, _ := s.Zone(zone)
		n := 0
		for _, r := range z.Geometry[0] {
			n += len(r)
		}
		b.Run(strconv.Itoa(n)+"-vertices", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.DistanceToBoundary(p, zone); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNearestRideEndParis(b *testing.B) {
	s := loadTestdata(b, "paris-geofencing_zones.json", Options{})
	p := orb.Point{2.6, 48.95} // outside every zone: escooters may not end here
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := s.NearestRideEnd(p, escoot, parisNow, 0); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

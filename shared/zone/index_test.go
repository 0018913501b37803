package zone

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

// TestIndexMatchesBruteForce evaluates many points with the grid and by
// testing every zone, and requires identical verdicts. Points are drawn
// uniformly over the extent and close to zone vertices (where the
// boundary-cell logic matters).
func TestIndexMatchesBruteForce(t *testing.T) {
	city := newSyntheticCity(t, 200, 1)
	sets := map[string]*Set{
		"paris": loadTestdata(t, "paris-geofencing_zones.json", Options{}),
		"city":  loadTestdata(t, "city-geofencing_zones.json", Options{}),
	}
	s, err := Load(city.doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sets["synthetic200"] = s
	// The same Paris set with no clip budget: every boundary cell tests
	// the whole geometry.
	unclipped := loadTestdata(t, "paris-geofencing_zones.json", Options{})
	unclipped.grid = buildGrid(unclipped.zones, unclipped.zoneContains, 0)
	if st := unclipped.IndexStats(); st.ClippedEntries != 0 || st.PartialEntries == 0 {
		t.Fatalf("unclipped index: %+v", st)
	}
	sets["paris-unclipped"] = unclipped
	times := []time.Time{
		time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC),
	}
	types := []string{"scooter", "bike", ebike, escoot}
	for name, s := range sets {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 7))
			g := &s.grid
			n := 600
			if testing.Short() {
				n = 150
			}
			var inside int
			var v Verdict
			check := func(p orb.Point) {
				at := times[rng.IntN(len(times))]
				vt := types[rng.IntN(len(types))]
				s.EvaluateInto(&v, p, vt, at)
				b := s.evaluateBrute(p, vt, at)
				if !verdictEqual(v, b) {
					t.Fatalf("point %v %s %v: indexed %+v, brute force %+v", p, vt, at, v, b)
				}
				if len(v.Containing) > 0 {
					inside++
				}
			}
			for i := 0; i < n; i++ {
				// Uniform over a slightly larger box than the grid.
				w, h := g.maxX-g.minX, g.maxY-g.minY
				check(orb.Point{g.minX - 0.05*w + 1.1*w*rng.Float64(), g.minY - 0.05*h + 1.1*h*rng.Float64()})
				// Near a random vertex of a random zone: within ~1 m, and
				// exactly on it.
				z := &s.zones[rng.IntN(len(s.zones))]
				ring := z.Geometry[rng.IntN(len(z.Geometry))][0]
				vx := ring[rng.IntN(len(ring))]
				check(orb.Point{vx[0] + (rng.Float64()-0.5)*2e-5, vx[1] + (rng.Float64()-0.5)*2e-5})
				check(vx)
				// On a cell corner.
				check(orb.Point{g.minX + float64(rng.IntN(g.nx+1))*g.cellW, g.minY + float64(rng.IntN(g.ny+1))*g.cellH})
			}
			if inside == 0 {
				t.Fatal("no point fell inside a zone: the test is not testing anything")
			}
			t.Logf("%d of %d points inside at least one zone", inside, 4*n)
		})
	}
}

func TestEvaluateOddPoints(t *testing.T) {
	s := loadTestdata(t, "city-geofencing_zones.json", Options{})
	nan := orb.Point{0, 0}
	nan[0] = nan[0] / nan[1] // NaN without a constant expression
	for _, p := range []orb.Point{nan, {1e308, 1e308}, {-200, 95}, {-3.7, nan[0]}} {
		v := s.Evaluate(p, "scooter", parisNow)
		if len(v.Containing) != 0 || v.RulesFrom != SourceGlobal {
			t.Errorf("Evaluate(%v) = %+v, want global rules", p, v)
		}
	}
	empty, err := Load([]byte(doc(``, okGlobal)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []orb.Point{ptPlaza, {0, 0}} {
		if v := empty.Evaluate(p, "x", parisNow); v.RulesFrom != SourceGlobal || !v.RideThroughAllowed || v.RideEndAllowed {
			t.Errorf("empty set at %v: %+v", p, v)
		}
	}
}

func TestGridShape(t *testing.T) {
	city := newSyntheticCity(t, 500, 3)
	s, err := Load(city.doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := s.IndexStats()
	if st.Columns*st.Rows > maxCells || st.Columns < 50 || st.Rows < 50 {
		t.Errorf("grid %d×%d", st.Columns, st.Rows)
	}
	// Cells are roughly square on the ground at 40°N.
	ratio := st.CellWidth * 0.766 / st.CellHeight
	if ratio < 0.8 || ratio > 1.25 {
		t.Errorf("cell aspect %.2f", ratio)
	}
	// The operating area covers most cells in full: those must not need a
	// point-in-polygon test.
	if st.FullEntries < st.Columns*st.Rows/2 {
		t.Errorf("only %d full entries in %d cells", st.FullEntries, st.Columns*st.Rows)
	}
	t.Logf("%+v", st)
}

// TestConcurrentEvaluate runs evaluations from several goroutines on one
// Set (run with -race: a Set must hold no mutable state).
func TestConcurrentEvaluate(t *testing.T) {
	s := loadTestdata(t, "city-geofencing_zones.json", Options{})
	at := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)
	want := s.Evaluate(ptPlaza, "scooter", at)
	pts := []orb.Point{ptPlaza, ptParking, ptOldTown, ptLake, ptNightlife, ptOutside}
	errs := make(chan string, 4)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v Verdict
			for i := 0; i < 500; i++ {
				s.EvaluateInto(&v, pts[i%len(pts)], "scooter", at)
				if _, _, err := s.NearestRideEnd(pts[i%len(pts)], "scooter", at, 0); err != nil {
					errs <- err.Error()
					return
				}
			}
			s.EvaluateInto(&v, ptPlaza, "scooter", at)
			if !verdictEqual(v, want) {
				errs <- "verdict changed under concurrency"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

package zone

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/paulmach/orb"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadTestdata(t testing.TB, name string, opts Options) *Set {
	t.Helper()
	s, err := Load(readTestdata(t, name), opts)
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return s
}

// interiorPoint returns a point strictly inside poly: the middle of the
// widest inside-interval of the horizontal line through the middle of the
// exterior ring's bounding box (even-odd over all rings).
func interiorPoint(t testing.TB, poly orb.Polygon) orb.Point {
	t.Helper()
	b := poly[0].Bound()
	y := (b.Min[1] + b.Max[1]) / 2
	var xs []float64
	for _, r := range poly {
		for k := 0; k+1 < len(r); k++ {
			a, c := r[k], r[k+1]
			if (a[1] > y) != (c[1] > y) {
				xs = append(xs, a[0]+(y-a[1])*(c[0]-a[0])/(c[1]-a[1]))
			}
		}
	}
	sort.Float64s(xs)
	best, bx := -1.0, 0.0
	for k := 0; k+1 < len(xs); k += 2 {
		if w := xs[k+1] - xs[k]; w > best {
			best, bx = w, (xs[k]+xs[k+1])/2
		}
	}
	if best <= 0 {
		t.Fatalf("no interior point found")
	}
	return orb.Point{bx, y}
}

func sameInts(a, b []int) bool { return slices.Equal(a, b) }

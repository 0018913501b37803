package citymap

import (
	"math/rand/v2"
	"testing"
)

// FuzzParse: any street file either fails with ErrInvalid or yields a graph
// whose routes and cursors work without panicking.
func FuzzParse(f *testing.F) {
	seed, _ := Encode(square())
	f.Add(seed)
	f.Add([]byte(`{"nodes":[[1,1],[1,1.001]],"streets":[{"name":"x","nodes":[0,1]}]}`))
	f.Add([]byte(`{"nodes":[[1e308,0]],"streets":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Parse(data)
		if err != nil {
			return
		}
		rng := rand.New(rand.NewPCG(1, 1))
		a, b := g.RandomNode(rng), g.RandomNode(rng)
		path, err := g.ShortestPath(a, b)
		if err != nil {
			return
		}
		c, err := NewCursor(g, path)
		if err != nil {
			t.Fatalf("shortest path %v is not a valid cursor path: %v", path, err)
		}
		for !c.Done() {
			if c.Advance(50) == 0 {
				break
			}
			_ = c.Position()
		}
	})
}

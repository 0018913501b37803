package citymap

import (
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fleetedge/fleetedge/shared/geo"
)

// Errors of this package; match with errors.Is.
var (
	// ErrInvalid marks a street file that cannot become a graph.
	ErrInvalid = errors.New("citymap: invalid street file")
	// ErrNoRoute marks a routing request between unconnected or unknown nodes.
	ErrNoRoute = errors.New("citymap: no route")
)

// File is the on-disk street network: nodes are [lat, lon] pairs in decimal
// degrees (WGS84), streets are named polylines of node indices. Consecutive
// nodes of a street form an edge usable in both directions.
type File struct {
	City    string       `json:"city"`
	Source  string       `json:"source"`
	Nodes   [][2]float64 `json:"nodes"`
	Streets []Street     `json:"streets"`
}

// Street is a named polyline of node indices.
type Street struct {
	Name  string `json:"name"`
	Nodes []int  `json:"nodes"`
}

// Point is a WGS84 position in decimal degrees.
type Point struct {
	Lat, Lon float64
}

// Edge is one directed half of a street segment.
type Edge struct {
	To      int
	Length  float64 // metres, geodesic
	Azimuth float64 // degrees clockwise from north at the start node
	Street  int     // index into Graph.StreetNames
}

// Graph is an immutable street graph. Safe for concurrent use.
type Graph struct {
	City        string
	Nodes       []Point
	Adj         [][]Edge
	StreetNames []string
	totalLength float64
}

// Parse decodes and validates a street file and builds its graph.
func Parse(data []byte) (*Graph, error) {
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return Build(&f)
}

// Build validates f and builds its graph. Duplicate segments are kept once.
func Build(f *File) (*Graph, error) {
	if len(f.Nodes) == 0 {
		return nil, fmt.Errorf("%w: no nodes", ErrInvalid)
	}
	g := &Graph{City: f.City, Nodes: make([]Point, len(f.Nodes)), Adj: make([][]Edge, len(f.Nodes))}
	for i, n := range f.Nodes {
		lat, lon := n[0], n[1]
		if math.IsNaN(lat) || math.IsNaN(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
			return nil, fmt.Errorf("%w: node %d: [%v, %v] is not a WGS84 position", ErrInvalid, i, lat, lon)
		}
		g.Nodes[i] = Point{Lat: lat, Lon: lon}
	}
	type pair struct{ a, b int }
	seen := make(map[pair]bool)
	for si, s := range f.Streets {
		if len(s.Nodes) < 2 {
			return nil, fmt.Errorf("%w: street %d (%q): fewer than 2 nodes", ErrInvalid, si, s.Name)
		}
		g.StreetNames = append(g.StreetNames, s.Name)
		for k := 1; k < len(s.Nodes); k++ {
			a, b := s.Nodes[k-1], s.Nodes[k]
			if a < 0 || a >= len(g.Nodes) || b < 0 || b >= len(g.Nodes) {
				return nil, fmt.Errorf("%w: street %d (%q): node index out of range", ErrInvalid, si, s.Name)
			}
			if a == b {
				return nil, fmt.Errorf("%w: street %d (%q): repeated node %d", ErrInvalid, si, s.Name, a)
			}
			if seen[pair{a, b}] || seen[pair{b, a}] {
				continue
			}
			seen[pair{a, b}] = true
			pa, pb := g.Nodes[a], g.Nodes[b]
			d, az1, _ := geo.Inverse(pa.Lat, pa.Lon, pb.Lat, pb.Lon)
			_, az2, _ := geo.Inverse(pb.Lat, pb.Lon, pa.Lat, pa.Lon)
			if !(d > 0.01) {
				return nil, fmt.Errorf("%w: street %d (%q): nodes %d and %d coincide", ErrInvalid, si, s.Name, a, b)
			}
			g.Adj[a] = append(g.Adj[a], Edge{To: b, Length: d, Azimuth: az1, Street: si})
			g.Adj[b] = append(g.Adj[b], Edge{To: a, Length: d, Azimuth: az2, Street: si})
			g.totalLength += d
		}
	}
	return g, nil
}

// TotalLength is the summed length of all street segments, in metres.
func (g *Graph) TotalLength() float64 { return g.totalLength }

// EdgeCount is the number of undirected street segments.
func (g *Graph) EdgeCount() int {
	n := 0
	for _, a := range g.Adj {
		n += len(a)
	}
	return n / 2
}

// Edge returns the edge from a to b, if the graph has one.
func (g *Graph) Edge(a, b int) (Edge, bool) {
	if a < 0 || a >= len(g.Adj) {
		return Edge{}, false
	}
	for _, e := range g.Adj[a] {
		if e.To == b {
			return e, true
		}
	}
	return Edge{}, false
}

// RandomNode picks a node that has at least one edge.
func (g *Graph) RandomNode(rng *rand.Rand) int {
	for range 1000 {
		n := rng.IntN(len(g.Nodes))
		if len(g.Adj[n]) > 0 {
			return n
		}
	}
	for n := range g.Adj {
		if len(g.Adj[n]) > 0 {
			return n
		}
	}
	return 0
}

// ShortestPath returns the node sequence of a shortest path from a to b
// (Dijkstra on geodesic edge lengths), both ends included.
func (g *Graph) ShortestPath(a, b int) ([]int, error) {
	if a < 0 || a >= len(g.Nodes) || b < 0 || b >= len(g.Nodes) {
		return nil, fmt.Errorf("%w: node %d or %d does not exist", ErrNoRoute, a, b)
	}
	if a == b {
		return []int{a}, nil
	}
	dist := make([]float64, len(g.Nodes))
	prev := make([]int, len(g.Nodes))
	for i := range dist {
		dist[i] = math.Inf(1)
		prev[i] = -1
	}
	dist[a] = 0
	q := &pq{{node: a}}
	for q.Len() > 0 {
		it := heap.Pop(q).(item)
		if it.dist > dist[it.node] {
			continue
		}
		if it.node == b {
			break
		}
		for _, e := range g.Adj[it.node] {
			nd := it.dist + e.Length
			if nd < dist[e.To] {
				dist[e.To] = nd
				prev[e.To] = it.node
				heap.Push(q, item{node: e.To, dist: nd})
			}
		}
	}
	if math.IsInf(dist[b], 1) {
		return nil, fmt.Errorf("%w: %d and %d are not connected", ErrNoRoute, a, b)
	}
	var path []int
	for n := b; n != -1; n = prev[n] {
		path = append(path, n)
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path, nil
}

// Components returns, for every node, the id of its connected component, and
// the number of components (isolated nodes count as their own component).
func (g *Graph) Components() (comp []int, n int) {
	comp = make([]int, len(g.Nodes))
	for i := range comp {
		comp[i] = -1
	}
	for s := range g.Nodes {
		if comp[s] != -1 {
			continue
		}
		stack := []int{s}
		comp[s] = n
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, e := range g.Adj[v] {
				if comp[e.To] == -1 {
					comp[e.To] = n
					stack = append(stack, e.To)
				}
			}
		}
		n++
	}
	return comp, n
}

type item struct {
	node int
	dist float64
}

type pq []item

func (q pq) Len() int           { return len(q) }
func (q pq) Less(i, j int) bool { return q[i].dist < q[j].dist }
func (q pq) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *pq) Push(x any)        { *q = append(*q, x.(item)) }
func (q *pq) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// Encode renders f as JSON with one node and one street per line, so diffs of
// the committed data stay readable.
func Encode(f *File) ([]byte, error) {
	var b []byte
	head, err := json.Marshal(struct {
		City   string `json:"city"`
		Source string `json:"source"`
	}{f.City, f.Source})
	if err != nil {
		return nil, fmt.Errorf("citymap: encode: %w", err)
	}
	b = append(b, head[:len(head)-1]...)
	b = append(b, ",\n\"nodes\": [\n"...)
	for i, n := range f.Nodes {
		b = fmt.Appendf(b, "[%.6f,%.6f]", n[0], n[1])
		if i < len(f.Nodes)-1 {
			b = append(b, ',')
		}
		b = append(b, '\n')
	}
	b = append(b, "],\n\"streets\": [\n"...)
	for i, s := range f.Streets {
		line, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("citymap: encode: %w", err)
		}
		b = append(b, line...)
		if i < len(f.Streets)-1 {
			b = append(b, ',')
		}
		b = append(b, '\n')
	}
	return append(b, "]}\n"...), nil
}

package citymap

import (
	"fmt"

	"github.com/fleetedge/fleetedge/shared/geo"
)

// Cursor is a position travelling along a path of graph edges. It is not safe
// for concurrent use; its owner (one simulated scooter) serialises access.
type Cursor struct {
	g      *Graph
	path   []int
	legs   []Edge // legs[i] goes from path[i] to path[i+1]
	leg    int
	offset float64 // metres from path[leg] along legs[leg]
}

// NewCursor starts a cursor at the first node of path. Every consecutive pair
// of path must be an edge of g.
func NewCursor(g *Graph, path []int) (*Cursor, error) {
	if len(path) == 0 {
		return nil, fmt.Errorf("%w: empty path", ErrNoRoute)
	}
	if path[0] < 0 || path[0] >= len(g.Nodes) {
		return nil, fmt.Errorf("%w: node %d does not exist", ErrNoRoute, path[0])
	}
	legs := make([]Edge, 0, len(path)-1)
	for i := 1; i < len(path); i++ {
		e, ok := g.Edge(path[i-1], path[i])
		if !ok {
			return nil, fmt.Errorf("%w: %d→%d is not an edge", ErrNoRoute, path[i-1], path[i])
		}
		legs = append(legs, e)
	}
	return &Cursor{g: g, path: path, legs: legs}, nil
}

// Advance moves the cursor up to m metres along its path and returns the
// distance actually moved (less than m only when the path ends).
func (c *Cursor) Advance(m float64) float64 {
	moved := 0.0
	for m > 0 && c.leg < len(c.legs) {
		rest := c.legs[c.leg].Length - c.offset
		if m < rest {
			c.offset += m
			moved += m
			return moved
		}
		m -= rest
		moved += rest
		c.leg++
		c.offset = 0
	}
	return moved
}

// Done reports whether the cursor reached the end of its path.
func (c *Cursor) Done() bool { return c.leg >= len(c.legs) }

// Node is the last node the cursor reached (its destination once Done).
func (c *Cursor) Node() int { return c.path[c.leg] }

// Destination is the last node of the path.
func (c *Cursor) Destination() int { return c.path[len(c.path)-1] }

// Remaining is the distance left to the destination, in metres.
func (c *Cursor) Remaining() float64 {
	if c.Done() {
		return 0
	}
	r := c.legs[c.leg].Length - c.offset
	for _, e := range c.legs[c.leg+1:] {
		r += e.Length
	}
	return r
}

// Edge returns the edge the cursor is on as (from, to, metres from "from");
// ok is false once Done.
func (c *Cursor) Edge() (from, to int, offset float64, ok bool) {
	if c.Done() {
		return c.path[c.leg], c.path[c.leg], 0, false
	}
	return c.path[c.leg], c.path[c.leg+1], c.offset, true
}

// Position is the cursor's point on the ground: on the geodesic of its current
// edge, offset metres from the edge's start.
func (c *Cursor) Position() Point {
	n := c.g.Nodes[c.path[c.leg]]
	if c.Done() || c.offset == 0 {
		return n
	}
	lat, lon, _ := geo.Direct(n.Lat, n.Lon, c.legs[c.leg].Azimuth, c.offset)
	return Point{Lat: lat, Lon: lon}
}

// Reverse returns a cursor at the same point heading back to the start of the
// current edge (a rider turning round); once Done it is at that node.
func (c *Cursor) Reverse() *Cursor {
	if c.Done() {
		return &Cursor{g: c.g, path: []int{c.Node()}}
	}
	from, to := c.path[c.leg], c.path[c.leg+1]
	e, _ := c.g.Edge(to, from) // edges are stored in both directions
	return &Cursor{g: c.g, path: []int{to, from}, legs: []Edge{e}, offset: e.Length - c.offset}
}

// Reroute returns a cursor at the same point whose path continues to dest:
// it finishes the current edge, then follows a shortest path.
func (c *Cursor) Reroute(dest int) (*Cursor, error) {
	if c.Done() || c.offset == 0 {
		path, err := c.g.ShortestPath(c.Node(), dest)
		if err != nil {
			return nil, err
		}
		return NewCursor(c.g, path)
	}
	from, to := c.path[c.leg], c.path[c.leg+1]
	rest, err := c.g.ShortestPath(to, dest)
	if err != nil {
		return nil, err
	}
	n, err := NewCursor(c.g, append([]int{from}, rest...))
	if err != nil {
		return nil, err
	}
	n.offset = c.offset
	return n, nil
}

// Start returns a cursor parked at node n.
func Start(g *Graph, n int) (*Cursor, error) { return NewCursor(g, []int{n}) }

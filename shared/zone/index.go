package zone

import (
	"math"

	"github.com/paulmach/orb"
)

// The spatial index is a uniform grid over the bounding box of all zones,
// stored compactly (CSR): cell c owns entries[start[c]:start[c+1]], sorted
// by zone index so evaluation visits zones in precedence order.
//
// Each entry says whether the cell lies wholly inside the zone ("full":
// no edge of the zone passes through the cell) or is crossed by the zone's
// boundary ("partial": the point must be tested). Cells wholly outside a
// zone have no entry for it. A partial entry carries the zone's geometry
// clipped to the cell, usually a handful of vertices, so the
// point-in-polygon test costs little even for a 2,000-vertex operating
// area. Evaluating a point therefore costs one cell lookup plus one small
// point-in-polygon test per zone boundary crossing that cell.
//
// Why "full" cells need no test: edges are rasterised onto every cell they
// come within a small margin of, so an unmarked cell contains no part of
// the zone's boundary; containment only changes across edges, so any two
// 4-adjacent unmarked cells agree, and one containment test on one cell
// centre of each connected unmarked region decides the whole region.
//
// Why clipped geometry gives the same answer: each Sutherland–Hodgman step
// replaces an excursion of a ring beyond one side of the (widened) cell by
// a segment along that side; excursion and segment form a closed loop in
// the outer half-plane, which winds zero times around any point of the
// cell, so every ring keeps its winding number, hence its crossing parity,
// for points inside the cell, self-intersecting rings included. Query
// points are inside the widened cell by construction. FuzzIndex and
// TestIndexMatchesBruteForce compare against whole-geometry tests.

// Grid bounds: at most maxCells cells, and the expected number of entries
// is kept under maxEntries by using coarser cells when zones are large.
const (
	maxCells     = 1 << 16
	minCells     = 1 << 10
	cellsPerZone = 64
	maxEntries   = 1 << 22
	maxGridSide  = 1 << 12
	// clipBudget bounds, per zone, boundary cells × vertices spent clipping
	// the zone to its boundary cells; past it the zone's boundary cells
	// test the whole geometry instead (slower queries, bounded load time).
	clipBudget = 1 << 25
	// cellMargin widens a cell, as a fraction of its size, when deciding
	// what touches it, so rounding in the point-to-cell arithmetic can
	// never put a point outside the area its cell was built for.
	cellMargin = 1e-6
)

// Special values of entry.clip.
const (
	clipFull  = -1 // the cell lies wholly inside the zone
	clipWhole = -2 // boundary cell, test the zone's whole geometry
)

// entry is one zone touching one cell.
type entry struct {
	zone int32
	// clip is clipFull, clipWhole, or the index in grid.clips of the
	// zone's geometry clipped to the (slightly widened) cell.
	clip int32
}

type grid struct {
	minX, minY     float64
	maxX, maxY     float64
	invW, invH     float64 // cells per degree
	cellW, cellH   float64 // degrees per cell
	nx, ny         int
	start          []uint32
	entries        []entry
	clips          []orb.MultiPolygon
	fullEntries    int
	partialEntries int
	clippedEntries int
}

// cell returns the index entries of the cell holding p, or nil when p is
// outside the grid (or not a finite point).
func (g *grid) cell(p orb.Point) []entry {
	x, y := p[0], p[1]
	if g.nx == 0 || !(x >= g.minX && x <= g.maxX && y >= g.minY && y <= g.maxY) {
		return nil
	}
	ix := int((x - g.minX) * g.invW)
	iy := int((y - g.minY) * g.invH)
	if ix >= g.nx {
		ix = g.nx - 1
	}
	if iy >= g.ny {
		iy = g.ny - 1
	}
	c := iy*g.nx + ix
	return g.entries[g.start[c]:g.start[c+1]]
}

// colOf and rowOf map a coordinate to a column/row, clamped to the grid.
func (g *grid) colOf(x float64) int {
	i := int(math.Floor((x - g.minX) * g.invW))
	return clampInt(i, 0, g.nx-1)
}

func (g *grid) rowOf(y float64) int {
	i := int(math.Floor((y - g.minY) * g.invH))
	return clampInt(i, 0, g.ny-1)
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// buildGrid indexes the zones. contains is the containment test used for
// one representative cell centre per region; budget is the clip budget
// (clipBudget outside tests).
func buildGrid(zones []Zone, contains func(z int, p orb.Point) bool, budget int) grid {
	var g grid
	if len(zones) == 0 {
		return g
	}
	b := zones[0].Bound
	for i := 1; i < len(zones); i++ {
		b = b.Union(zones[i].Bound)
	}
	g.minX, g.minY, g.maxX, g.maxY = b.Min[0], b.Min[1], b.Max[0], b.Max[1]
	g.nx, g.ny = gridShape(b, zones)
	g.cellW = (g.maxX - g.minX) / float64(g.nx)
	g.cellH = (g.maxY - g.minY) / float64(g.ny)
	// A zero-width extent cannot happen with validated rings (non-zero
	// area), but keep the arithmetic finite regardless.
	if g.cellW <= 0 {
		g.cellW = 1e-9
	}
	if g.cellH <= 0 {
		g.cellH = 1e-9
	}
	g.invW, g.invH = 1/g.cellW, 1/g.cellH

	// Each zone is rasterised into a window of cells, giving (cell, entry)
	// pairs in zone order, later bucketed into CSR form.
	type pair struct {
		cell uint32
		e    entry
	}
	var pairs []pair
	var mark []uint8 // window scratch: 0 unknown, 1 boundary, 2 inside, 3 outside
	var stack []int
	var clipper ringClipper
	for zi := range zones {
		z := &zones[zi]
		c0, c1 := g.colOf(z.Bound.Min[0]), g.colOf(z.Bound.Max[0])
		r0, r1 := g.rowOf(z.Bound.Min[1]), g.rowOf(z.Bound.Max[1])
		// Widen by one cell so edges lying on a window border are caught.
		c0, r0 = max(c0-1, 0), max(r0-1, 0)
		c1, r1 = min(c1+1, g.nx-1), min(r1+1, g.ny-1)
		w, h := c1-c0+1, r1-r0+1
		if cap(mark) < w*h {
			mark = make([]uint8, w*h)
		}
		mark = mark[:w*h]
		clear(mark)
		vertices := 0
		for _, poly := range z.Geometry {
			for _, ring := range poly {
				vertices += len(ring)
				for k := 0; k+1 < len(ring); k++ {
					g.rasterEdge(ring[k], ring[k+1], c0, r0, w, h, mark)
				}
			}
		}
		boundary := 0
		// Flood-fill unmarked regions; one containment test per region.
		for start := range mark {
			if mark[start] != 0 {
				if mark[start] == 1 {
					boundary++
				}
				continue
			}
			state := uint8(3)
			if contains(zi, g.cellCentre(c0+start%w, r0+start/w)) {
				state = 2
			}
			stack = append(stack[:0], start)
			mark[start] = state
			for len(stack) > 0 {
				k := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				kx, ky := k%w, k/w
				if kx > 0 && mark[k-1] == 0 {
					mark[k-1] = state
					stack = append(stack, k-1)
				}
				if kx+1 < w && mark[k+1] == 0 {
					mark[k+1] = state
					stack = append(stack, k+1)
				}
				if ky > 0 && mark[k-w] == 0 {
					mark[k-w] = state
					stack = append(stack, k-w)
				}
				if ky+1 < h && mark[k+w] == 0 {
					mark[k+w] = state
					stack = append(stack, k+w)
				}
			}
		}
		clip := boundary*vertices <= budget
		if clip && boundary > 0 {
			clipper.setBounds(z.Geometry)
		}
		for k, m := range mark {
			if m == 3 {
				continue
			}
			cx, cy := c0+k%w, r0+k/w
			e := entry{zone: int32(zi), clip: clipFull}
			switch {
			case m == 2:
				g.fullEntries++
			case clip:
				mp := clipper.clip(z.Geometry, g.cellBound(cx, cy))
				if mp == nil {
					// The boundary only passes through the margin and the
					// cell itself lies outside the zone.
					continue
				}
				e.clip = int32(len(g.clips))
				g.clips = append(g.clips, mp)
				g.partialEntries++
				g.clippedEntries++
			default:
				e.clip = clipWhole
				g.partialEntries++
			}
			pairs = append(pairs, pair{uint32(cy*g.nx + cx), e})
		}
	}
	ncell := g.nx * g.ny
	g.start = make([]uint32, ncell+1)
	for _, p := range pairs {
		g.start[p.cell+1]++
	}
	for c := 0; c < ncell; c++ {
		g.start[c+1] += g.start[c]
	}
	g.entries = make([]entry, len(pairs))
	fill := make([]uint32, ncell)
	copy(fill, g.start[:ncell])
	// pairs are in zone order, so each cell's entries end up sorted by zone.
	for _, p := range pairs {
		g.entries[fill[p.cell]] = p.e
		fill[p.cell]++
	}
	return g
}

// cellCentre is the centre of cell (cx, cy).
func (g *grid) cellCentre(cx, cy int) orb.Point {
	return orb.Point{g.minX + (float64(cx)+0.5)*g.cellW, g.minY + (float64(cy)+0.5)*g.cellH}
}

// cellBound is cell (cx, cy) widened by the cell margin.
func (g *grid) cellBound(cx, cy int) orb.Bound {
	mx, my := g.cellW*cellMargin, g.cellH*cellMargin
	return orb.Bound{
		Min: orb.Point{g.minX + float64(cx)*g.cellW - mx, g.minY + float64(cy)*g.cellH - my},
		Max: orb.Point{g.minX + float64(cx+1)*g.cellW + mx, g.minY + float64(cy+1)*g.cellH + my},
	}
}

// ringClipper clips polygons to rectangles (Sutherland–Hodgman), reusing
// its scratch buffers. setBounds caches the ring bounding boxes of the
// geometry about to be clipped to many cells.
type ringClipper struct {
	a, b   []orb.Point
	bounds [][]orb.Bound // per polygon, per ring
}

func (c *ringClipper) setBounds(mp orb.MultiPolygon) {
	c.bounds = c.bounds[:0]
	for _, poly := range mp {
		rb := make([]orb.Bound, len(poly))
		for k, ring := range poly {
			rb[k] = ringBound(ring)
		}
		c.bounds = append(c.bounds, rb)
	}
}

// ringBound is ring.Bound() without orb's per-point overhead.
func ringBound(r orb.Ring) orb.Bound {
	if len(r) == 0 {
		return orb.Bound{}
	}
	b := orb.Bound{Min: r[0], Max: r[0]}
	for _, p := range r[1:] {
		b.Min[0], b.Max[0] = math.Min(b.Min[0], p[0]), math.Max(b.Max[0], p[0])
		b.Min[1], b.Max[1] = math.Min(b.Min[1], p[1]), math.Max(b.Max[1], p[1])
	}
	return b
}

// clip returns mp ∩ r as a MultiPolygon whose containment answer equals
// mp's for every point strictly inside r, or nil when no polygon of mp
// reaches into r. Clipped rings may have degenerate edges along r's sides;
// they do not change which points lie inside (see the package comment
// top of this file). mp must be the geometry given to setBounds.
func (c *ringClipper) clip(mp orb.MultiPolygon, r orb.Bound) orb.MultiPolygon {
	var out orb.MultiPolygon
	for pi, poly := range mp {
		ext := c.clipRing(poly[0], c.bounds[pi][0], r)
		if ext == nil {
			continue
		}
		cp := orb.Polygon{ext}
		for k, hole := range poly[1:] {
			if hr := c.clipRing(hole, c.bounds[pi][k+1], r); hr != nil {
				cp = append(cp, hr)
			}
		}
		out = append(out, cp)
	}
	return out
}

// clipRing clips a closed ring, whose bounding box is rb, to r; nil when
// less than a triangle is left.
func (c *ringClipper) clipRing(ring orb.Ring, rb orb.Bound, r orb.Bound) orb.Ring {
	if !rb.Intersects(r) {
		return nil
	}
	// Work on the open ring (without the closing position).
	c.a = append(c.a[:0], ring[:len(ring)-1]...)
	for side := 0; side < 4 && len(c.a) > 0; side++ {
		c.b = c.b[:0]
		prev := c.a[len(c.a)-1]
		prevIn := insideSide(prev, r, side)
		for _, cur := range c.a {
			curIn := insideSide(cur, r, side)
			if curIn != prevIn {
				c.b = append(c.b, crossSide(prev, cur, r, side))
			}
			if curIn {
				c.b = append(c.b, cur)
			}
			prev, prevIn = cur, curIn
		}
		c.a, c.b = c.b, c.a
	}
	if len(c.a) < 3 {
		return nil
	}
	out := make(orb.Ring, len(c.a)+1)
	copy(out, c.a)
	out[len(c.a)] = c.a[0]
	return out
}

// insideSide reports whether p is on the inner side of side s of r
// (0 left, 1 right, 2 bottom, 3 top).
func insideSide(p orb.Point, r orb.Bound, s int) bool {
	switch s {
	case 0:
		return p[0] >= r.Min[0]
	case 1:
		return p[0] <= r.Max[0]
	case 2:
		return p[1] >= r.Min[1]
	default:
		return p[1] <= r.Max[1]
	}
}

// crossSide is where segment a-b crosses the line of side s of r.
func crossSide(a, b orb.Point, r orb.Bound, s int) orb.Point {
	switch s {
	case 0, 1:
		x := r.Min[0]
		if s == 1 {
			x = r.Max[0]
		}
		t := (x - a[0]) / (b[0] - a[0])
		return orb.Point{x, a[1] + t*(b[1]-a[1])}
	default:
		y := r.Min[1]
		if s == 3 {
			y = r.Max[1]
		}
		t := (y - a[1]) / (b[1] - a[1])
		return orb.Point{a[0] + t*(b[0]-a[0]), y}
	}
}

// gridShape picks nx, ny: roughly square cells on the ground, as many as
// the zone count warrants, fewer when large zones would make too many
// entries.
func gridShape(b orb.Bound, zones []Zone) (int, int) {
	midLat := (b.Min[1] + b.Max[1]) / 2
	kx := math.Cos(midLat * math.Pi / 180)
	if kx < 0.01 {
		kx = 0.01
	}
	W := (b.Max[0] - b.Min[0]) * kx
	H := b.Max[1] - b.Min[1]
	if W <= 0 || H <= 0 {
		return 1, 1
	}
	target := float64(clampInt(len(zones)*cellsPerZone, minCells, maxCells))
	// Expected entries ≈ target × Σ (zone bbox area / grid area): shrink
	// the grid when the zones together cover the area many times over.
	var cover float64
	area := W * H
	for i := range zones {
		zb := zones[i].Bound
		cover += (zb.Max[0] - zb.Min[0]) * kx * (zb.Max[1] - zb.Min[1]) / area
	}
	if cover*target > maxEntries {
		target = math.Max(16, maxEntries/cover)
	}
	s := math.Sqrt(area / target)
	nx := clampInt(int(math.Ceil(W/s)), 1, maxGridSide)
	ny := clampInt(int(math.Ceil(H/s)), 1, maxGridSide)
	for nx*ny > maxCells {
		if nx > ny {
			nx = (nx + 1) / 2
		} else {
			ny = (ny + 1) / 2
		}
	}
	return nx, ny
}

// rasterEdge marks (value 1) every window cell the segment a-b passes
// through or comes within a small margin of.
func (g *grid) rasterEdge(a, b orb.Point, c0, r0, w, h int, mark []uint8) {
	epsX := g.cellW * cellMargin
	epsY := g.cellH * cellMargin
	if a[0] > b[0] {
		a, b = b, a
	}
	ca := g.colOf(a[0] - epsX)
	cb := g.colOf(b[0] + epsX)
	dx := b[0] - a[0]
	for col := ca; col <= cb; col++ {
		// Part of the segment within this column (plus margin).
		xlo := math.Max(a[0], g.minX+float64(col)*g.cellW-epsX)
		xhi := math.Min(b[0], g.minX+float64(col+1)*g.cellW+epsX)
		var ylo, yhi float64
		if dx <= 0 || xhi < xlo {
			ylo, yhi = math.Min(a[1], b[1]), math.Max(a[1], b[1])
		} else {
			t0 := (xlo - a[0]) / dx
			t1 := (xhi - a[0]) / dx
			y0 := a[1] + (b[1]-a[1])*t0
			y1 := a[1] + (b[1]-a[1])*t1
			ylo, yhi = math.Min(y0, y1), math.Max(y0, y1)
		}
		rlo := g.rowOf(ylo - epsY)
		rhi := g.rowOf(yhi + epsY)
		lc := col - c0
		if lc < 0 || lc >= w {
			continue
		}
		for row := rlo; row <= rhi; row++ {
			lr := row - r0
			if lr < 0 || lr >= h {
				continue
			}
			mark[lr*w+lc] = 1
		}
	}
}

// clippedVertices counts the vertices stored in clipped entries.
func (g *grid) clippedVertices() int {
	n := 0
	for _, mp := range g.clips {
		for _, poly := range mp {
			for _, r := range poly {
				n += len(r)
			}
		}
	}
	return n
}

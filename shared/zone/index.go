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
// zone have no entry for it. Evaluating a point therefore costs one cell
// lookup plus, for partial entries only, a bounding-box check and a
// point-in-polygon test.
//
// Correctness argument for "full" cells: edges are rasterised onto every
// cell they come within a small margin of, so a cell without a boundary
// mark contains no part of the zone's boundary; any two 4-adjacent unmarked
// cells are on the same side of it; one containment test on one cell centre
// of each connected unmarked region decides the whole region.

// Grid bounds: at most maxCells cells, and the expected number of entries
// is kept under maxEntries by using coarser cells when zones are large.
const (
	maxCells      = 1 << 16
	minCells      = 1 << 10
	cellsPerZone  = 64
	maxEntries    = 1 << 22
	maxGridSide   = 1 << 12
	entryFullFlag = 1
)

type grid struct {
	minX, minY     float64
	maxX, maxY     float64
	invW, invH     float64 // cells per degree
	cellW, cellH   float64 // degrees per cell
	nx, ny         int
	start          []uint32
	entries        []uint32 // zone<<1 | full
	fullEntries    int
	partialEntries int
}

// cell returns the index entries of the cell holding p, or nil when p is
// outside the grid (or not a finite point).
func (g *grid) cell(p orb.Point) []uint32 {
	x, y := p[0], p[1]
	if !(x >= g.minX && x <= g.maxX && y >= g.minY && y <= g.maxY) {
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
// one representative cell centre per region.
func buildGrid(zones []Zone, contains func(z int, p orb.Point) bool) grid {
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

	// Per-zone rasterisation into a window of cells, collected as
	// (cell, entry) pairs, then bucketed into CSR form.
	type pair struct {
		cell  uint32
		entry uint32
	}
	var pairs []pair
	var mark []uint8 // window scratch: 0 unknown, 1 boundary, 2 inside, 3 outside
	var stack []int
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
		for _, poly := range z.Geometry {
			for _, ring := range poly {
				for k := 0; k+1 < len(ring); k++ {
					g.rasterEdge(ring[k], ring[k+1], c0, r0, w, h, mark)
				}
			}
		}
		// Flood-fill unmarked regions; one containment test per region.
		for start := range mark {
			if mark[start] != 0 {
				continue
			}
			cx := c0 + start%w
			cy := r0 + start/w
			centre := orb.Point{g.minX + (float64(cx)+0.5)*g.cellW, g.minY + (float64(cy)+0.5)*g.cellH}
			state := uint8(3)
			if contains(zi, centre) {
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
		for k, m := range mark {
			if m == 3 {
				continue
			}
			cell := uint32((r0+k/w)*g.nx + c0 + k%w)
			e := uint32(zi) << 1
			if m == 2 {
				e |= entryFullFlag
				g.fullEntries++
			} else {
				g.partialEntries++
			}
			pairs = append(pairs, pair{cell, e})
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
	g.entries = make([]uint32, len(pairs))
	fill := make([]uint32, ncell)
	copy(fill, g.start[:ncell])
	// pairs are in zone order, so each cell's entries end up sorted by zone.
	for _, p := range pairs {
		g.entries[fill[p.cell]] = p.entry
		fill[p.cell]++
	}
	return g
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
	epsX := g.cellW * 1e-6
	epsY := g.cellH * 1e-6
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

package zone

import (
	"fmt"
	"time"

	"github.com/paulmach/orb"
)

// Set is a loaded, validated and indexed collection of zones plus the
// global rules. It is immutable: every method is safe for concurrent use
// without locking. To change zones, load a new Set and swap the pointer.
type Set struct {
	zones    []Zone
	geoms    []zoneGeom
	global   []Rule
	loc      *time.Location
	ids      map[string]int
	grid     grid
	meta     Meta
	warnings []string
}

// zoneGeom is the evaluation-side view of a zone: cached bounding boxes.
type zoneGeom struct {
	bound orb.Bound
	polys []polyGeom
	// always is set when the zone has no start, end or schedule.
	always bool
}

type polyGeom struct {
	bound orb.Bound
	poly  orb.Polygon
}

// newSet indexes validated zones.
func newSet(zones []Zone, global []Rule, loc *time.Location, meta Meta, warnings []string) *Set {
	s := &Set{
		zones:    zones,
		geoms:    make([]zoneGeom, len(zones)),
		global:   global,
		loc:      loc,
		ids:      make(map[string]int, len(zones)),
		meta:     meta,
		warnings: warnings,
	}
	for i := range zones {
		z := &zones[i]
		// Load refuses a document with any bad feature, so a zone's position
		// in the Set always equals its feature index (Zone.Index).
		s.ids[z.ID] = i
		g := &s.geoms[i]
		g.bound = z.Bound
		g.always = z.Start.IsZero() && z.End.IsZero() && len(z.Schedule) == 0
		g.polys = make([]polyGeom, len(z.Geometry))
		for k, p := range z.Geometry {
			g.polys[k] = polyGeom{bound: p.Bound(), poly: p}
		}
	}
	s.grid = buildGrid(zones, s.zoneContains, clipBudget)
	return s
}

// Len is the number of zones.
func (s *Set) Len() int { return len(s.zones) }

// Zone returns zone i (0 <= i < Len), in document order. The returned
// value shares slices with the Set: do not modify them.
func (s *Set) Zone(i int) (Zone, error) {
	if i < 0 || i >= len(s.zones) {
		return Zone{}, fmt.Errorf("zone: %d: %w", i, ErrUnknownZone)
	}
	return s.zones[i], nil
}

// Lookup returns the position of the zone with the given id.
func (s *Set) Lookup(id string) (int, bool) {
	i, ok := s.ids[id]
	return i, ok
}

// GlobalRules returns the rules that apply outside every zone. Do not
// modify the returned slice.
func (s *Set) GlobalRules() []Rule { return s.global }

// Location is the time zone schedules are evaluated in.
func (s *Set) Location() *time.Location { return s.loc }

// Meta returns the document header.
func (s *Set) Meta() Meta { return s.meta }

// Warnings lists accepted deviations from GBFS v3.0 found while loading
// (e.g. the v2 field name vehicle_type_id). Empty for a clean document.
func (s *Set) Warnings() []string { return s.warnings }

// IndexStats describes the spatial index (for logs and tuning).
type IndexStats struct {
	Columns, Rows int
	// CellWidth and CellHeight are in degrees.
	CellWidth, CellHeight float64
	// FullEntries counts (cell, zone) pairs where the cell lies wholly
	// inside the zone; PartialEntries those crossed by its boundary, of
	// which ClippedEntries carry the zone clipped to the cell (the rest
	// test the whole geometry: zones too big to clip within the budget).
	FullEntries, PartialEntries, ClippedEntries int
	// ClippedVertices is the number of vertices stored in clipped entries.
	ClippedVertices int
}

// IndexStats reports the shape of the spatial index.
func (s *Set) IndexStats() IndexStats {
	return IndexStats{
		Columns: s.grid.nx, Rows: s.grid.ny,
		CellWidth: s.grid.cellW, CellHeight: s.grid.cellH,
		FullEntries: s.grid.fullEntries, PartialEntries: s.grid.partialEntries,
		ClippedEntries: s.grid.clippedEntries, ClippedVertices: s.grid.clippedVertices(),
	}
}

// Active reports whether zone i is in force at now: within its start/end
// and, if it has a schedule, inside one of its windows in the set's time
// zone. False for an unknown zone.
func (s *Set) Active(i int, now time.Time) bool {
	if i < 0 || i >= len(s.zones) {
		return false
	}
	var lt localTime
	return s.active(i, now, &lt)
}

// localTime caches the wall-clock reading of "now" for one evaluation.
type localTime struct {
	ok  bool
	day time.Weekday
	tod time.Duration
}

func (s *Set) active(i int, now time.Time, lt *localTime) bool {
	z := &s.zones[i]
	if !z.Start.IsZero() && now.Before(z.Start) {
		return false
	}
	if !z.End.IsZero() && !now.Before(z.End) {
		return false
	}
	if len(z.Schedule) == 0 {
		return true
	}
	if !lt.ok {
		t := now.In(s.loc)
		h, m, sec := t.Clock()
		lt.day = t.Weekday()
		lt.tod = time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
			time.Duration(sec)*time.Second + time.Duration(t.Nanosecond())
		lt.ok = true
	}
	for k := range z.Schedule {
		if z.Schedule[k].covers(lt.day, lt.tod) {
			return true
		}
	}
	return false
}

// covers reports whether the window includes local weekday day at time of
// day tod.
func (w *Window) covers(day time.Weekday, tod time.Duration) bool {
	if w.From < w.To {
		return w.Days.Has(day) && tod >= w.From && tod < w.To
	}
	// Runs past midnight: the evening part on a listed day, the morning
	// part on the day after a listed day.
	prev := (day + 6) % 7
	return (w.Days.Has(day) && tod >= w.From) || (w.Days.Has(prev) && tod < w.To)
}

// zoneContains tests p against zone i's polygons (bounding boxes first).
func (s *Set) zoneContains(i int, p orb.Point) bool {
	g := &s.geoms[i]
	if !g.bound.Contains(p) {
		return false
	}
	for k := range g.polys {
		if g.polys[k].bound.Contains(p) && polygonContains(g.polys[k].poly, p) {
			return true
		}
	}
	return false
}

// Contains reports whether point p lies in zone i's geometry (ignoring
// time). False for an unknown zone.
func (s *Set) Contains(i int, p orb.Point) bool {
	if i < 0 || i >= len(s.zones) {
		return false
	}
	return s.zoneContains(i, p)
}

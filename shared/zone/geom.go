package zone

import (
	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/shared/geo"
)

// polygonContains is the containment test: planar in lon/lat, as GeoJSON
// (RFC 7946) defines polygon interiors; the boundary belongs to the
// polygon (see geo.Contains).
func polygonContains(poly orb.Polygon, p orb.Point) bool {
	return geo.Contains(poly, p)
}

// multiPolygonContains tests the polygons of a cell-clipped geometry; their
// bounding boxes lie within the cell, so no box check is worth doing.
func multiPolygonContains(mp orb.MultiPolygon, p orb.Point) bool {
	return geo.ContainsMulti(mp, p)
}

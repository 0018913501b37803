package zone

import (
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
)

// polygonContains is the containment test: planar in lon/lat, as GeoJSON
// (RFC 7946) defines polygon interiors.
func polygonContains(poly orb.Polygon, p orb.Point) bool {
	return planar.PolygonContains(poly, p)
}

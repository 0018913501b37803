// Package geo owns fleetedge's geodesy on the WGS84 ellipsoid: geodesic
// distances and azimuths, the position reached along a geodesic, track
// lengths, point-in-zone tests and the distance from a point to a zone's
// boundary. Zones and tracks are github.com/paulmach/orb values
// (orb.Point is [lon, lat] in degrees).
//
// # Geodesics
//
// Inverse and Direct implement C. F. F. Karney, "Algorithms for
// geodesics", J. Geodesy 87, 43-55 (2013), written here from the paper
// with the series truncated at order 6 as GeographicLib does for double
// precision. Inverse solves every configuration, including nearly
// antipodal points (Newton's method on the auxiliary sphere started from
// the astroid solution), meridional and equatorial lines and the poles.
//
// Accuracy, asserted by TestGeodTest on all 10,000 geodesics of
// GeographicLib's GeodTest-short.dat (testdata/): the Inverse distance is
// within 0.1 mm of the reference for s12 ≤ 100 km and within 1 mm at any
// distance (measured: ≤ 7.5e-9 m in every category, nearly antipodal
// included); the azimuth errors, expressed as the displacement
// |m12|·Δazi they cause at the other end, are ≤ 1 µm (measured ≤ 3.2e-9 m);
// Direct positions are within 1 mm (measured ≤ 9.5e-9 m) and its azi2
// within 1e-7° (measured ≤ 2.4e-9°). Costs are about a microsecond per
// call (BenchmarkInverse*).
//
// # Zones
//
// Contains and ContainsMulti follow GeoJSON (RFC 7946): edges are straight
// lines in lon/lat, the first ring of a polygon is its outer boundary and
// the others are holes; the polygon is a closed set (points exactly on an
// edge are inside). Polygons crossing the antimeridian must be split.
// DistanceToBoundary and DistanceToBoundaryMulti return the geodesic
// distance to the nearest edge of any ring, accurate to well below a
// micrometre at zone scales (see DistanceToBoundary for the bound), which
// is what zone hysteresis needs.
//
// # Validation
//
// The geodesic functions are total: invalid input (NaN, ±Inf, |lat| > 90)
// yields NaN results rather than an error, so hot paths pay nothing for
// checks. Input from outside the system is checked once with CheckLatLon,
// CheckPoint, CheckPolygon, InverseChecked or DirectChecked, which return
// *CoordinateError or *GeometryError (errors.Is ErrInvalidCoordinate /
// ErrInvalidGeometry).
//
// The package has no mutable state; every function is safe for
// concurrent use.
package geo

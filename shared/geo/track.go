package geo

import "github.com/paulmach/orb"

// Distance returns the geodesic distance in metres between a and b
// (orb.Point is [lon, lat] in degrees) on the WGS84 ellipsoid. Invalid
// points give NaN; validate untrusted input with CheckPoint first.
func Distance(a, b orb.Point) float64 {
	s12, _, _ := Inverse(a.Lat(), a.Lon(), b.Lat(), b.Lon())
	return s12
}

// TrackLength returns the geodesic length in metres of ls, the sum of the
// geodesic distances between consecutive points (each segment is taken as
// the geodesic between its ends, not the straight lon/lat line; for the
// short segments of GPS tracks the two differ by far less than GPS noise).
// An empty or one-point line string has length 0.
func TrackLength(ls orb.LineString) float64 {
	var sum float64
	for i := 1; i < len(ls); i++ {
		sum += Distance(ls[i-1], ls[i])
	}
	return sum
}

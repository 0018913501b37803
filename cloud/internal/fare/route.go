package fare

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/fleetedge/fleetedge/shared/geo"
)

// Fix is one GPS position of a ride, in decimal degrees (WGS84).
type Fix struct {
	Time     time.Time
	Lat, Lon float64
}

// Defaults of RouteOptions.
const (
	DefaultMaxSpeedKmh  = 45
	DefaultSmoothWindow = 3
)

// lookback is how many earlier fixes a fix may follow directly in the
// jump filter (besides the end of the best chain so far).
const lookback = 16

// RouteOptions tunes Rebuild. The zero value uses the defaults.
type RouteOptions struct {
	// MaxSpeedKmh: a fix implying a faster move from the previous kept fix
	// is an impossible jump. ≤ 0 or NaN: DefaultMaxSpeedKmh.
	MaxSpeedKmh float64
	// SmoothWindow is the moving-average width in fixes. ≤ 0:
	// DefaultSmoothWindow; 1: no smoothing; even: widened to the next odd.
	SmoothWindow int
}

func (o RouteOptions) withDefaults() RouteOptions {
	if !(o.MaxSpeedKmh > 0) {
		o.MaxSpeedKmh = DefaultMaxSpeedKmh
	}
	if o.SmoothWindow <= 0 {
		o.SmoothWindow = DefaultSmoothWindow
	}
	if o.SmoothWindow%2 == 0 {
		o.SmoothWindow++
	}
	return o
}

// Route is a rebuilt ride route.
type Route struct {
	// Points are the kept fixes after smoothing, strictly increasing in time.
	Points []Fix
	// LengthM is the geodesic length of Points in metres.
	LengthM float64
	// Dropped counts input fixes not in Points: invalid, duplicate
	// timestamps, impossible jumps.
	Dropped int
}

// Rebuild rebuilds the route of a ride from its GPS fixes (in any order);
// see the package documentation for the steps. It does not modify fixes.
func Rebuild(fixes []Fix, o RouteOptions) Route {
	o = o.withDefaults()
	pts := make([]Fix, 0, len(fixes))
	for _, f := range fixes {
		if validFix(f) {
			pts = append(pts, f)
		}
	}
	slices.SortStableFunc(pts, func(a, b Fix) int { return a.Time.Compare(b.Time) })
	pts = slices.CompactFunc(pts, func(a, b Fix) bool { return a.Time.Equal(b.Time) })
	pts = dropJumps(pts, o.MaxSpeedKmh/3.6)
	pts = smooth(pts, o.SmoothWindow/2)
	return Route{Points: pts, LengthM: length(pts), Dropped: len(fixes) - len(pts)}
}

func validFix(f Fix) bool {
	return !f.Time.IsZero() && geo.CheckLatLon(f.Lat, f.Lon) == nil
}

func distance(a, b Fix) float64 {
	s, _, _ := geo.Inverse(a.Lat, a.Lon, b.Lat, b.Lon)
	return s
}

// consistent reports whether b can follow a (a earlier) at most maxMps.
func consistent(a, b Fix, maxMps float64) bool {
	dt := b.Time.Sub(a.Time).Seconds()
	return distance(a, b) <= maxMps*dt
}

// dropJumps keeps the longest chain of consistent fixes (see doc.go). pts
// is sorted with distinct times; the result reuses its backing array.
func dropJumps(pts []Fix, maxMps float64) []Fix {
	n := len(pts)
	if n < 2 {
		return pts
	}
	score := make([]int32, n)
	prev := make([]int32, n)
	best := -1 // end of the best chain so far
	for i := range pts {
		score[i], prev[i] = 1, -1
		lo := max(0, i-lookback)
		// Nearest predecessors first; only a strictly longer chain replaces
		// the current one, so in a clean track j = i-1 wins at once and
		// the others are skipped without a geodesic.
		for j := i - 1; j >= lo; j-- {
			if score[j]+1 > score[i] && consistent(pts[j], pts[i], maxMps) {
				score[i], prev[i] = score[j]+1, int32(j)
			}
		}
		if best >= 0 && best < lo && score[best]+1 > score[i] && consistent(pts[best], pts[i], maxMps) {
			score[i], prev[i] = score[best]+1, int32(best)
		}
		if best < 0 || score[i] > score[best] {
			best = i
		}
	}
	k := int(score[best])
	out := make([]Fix, k)
	for i := best; i >= 0; i = int(prev[i]) {
		k--
		out[k] = pts[i]
	}
	return out
}

// smooth returns the centred moving average with half-width h, shrinking
// symmetrically near the ends.
func smooth(pts []Fix, h int) []Fix {
	if h <= 0 || len(pts) < 3 {
		return pts
	}
	out := make([]Fix, len(pts))
	for i, c := range pts {
		w := min(h, i, len(pts)-1-i)
		var sLat, sDLon float64
		for j := i - w; j <= i+w; j++ {
			sLat += pts[j].Lat
			sDLon += lonOffset(c.Lon, pts[j].Lon)
		}
		cnt := float64(2*w + 1)
		lat := math.Max(-90, math.Min(90, sLat/cnt))
		out[i] = Fix{Time: c.Time, Lat: lat, Lon: wrapLon(c.Lon + sDLon/cnt)}
	}
	return out
}

// lonOffset is lon − ref in (−180, 180].
func lonOffset(ref, lon float64) float64 {
	d := lon - ref
	switch {
	case d > 180:
		d -= 360
	case d <= -180:
		d += 360
	}
	return d
}

// wrapLon brings lon back into [-180, 180].
func wrapLon(lon float64) float64 {
	switch {
	case lon > 180:
		return lon - 360
	case lon < -180:
		return lon + 360
	}
	return lon
}

func length(pts []Fix) float64 {
	var sum float64
	for i := 1; i < len(pts); i++ {
		sum += distance(pts[i-1], pts[i])
	}
	return sum
}

// GeoJSON returns the route as a GeoJSON LineString geometry ([lon, lat]
// positions rounded to 1e-7°, about 1 cm). A route of fewer than two points
// gives a LineString with that many positions (GeoJSON wants two: callers
// storing it as a geometry should check len(Points) first).
func (r Route) GeoJSON() json.RawMessage {
	b := make([]byte, 0, 40+len(r.Points)*26)
	b = append(b, `{"type":"LineString","coordinates":[`...)
	for i, p := range r.Points {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendCoord(b, p.Lon)
		b = append(b, ',')
		b = appendCoord(b, p.Lat)
		b = append(b, ']')
	}
	b = append(b, "]}"...)
	return b
}

func appendCoord(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) { // unreachable for Rebuild's output
		v = 0
	}
	return strconv.AppendFloat(b, math.Round(v*1e7)/1e7, 'f', -1, 64)
}

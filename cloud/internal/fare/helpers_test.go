package fare

import (
	"math/rand/v2"
	"time"

	"github.com/fleetedge/fleetedge/shared/geo"
	"github.com/paulmach/orb"
)

var (
	t0      = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	baseLat = 41.3851
	baseLon = 2.1734
)

// at returns t0 + s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// track returns n fixes every step seconds along a straight geodesic from
// the base point heading azi, at speedKmh.
func track(n int, step float64, speedKmh, azi float64) []Fix {
	out := make([]Fix, n)
	for i := range out {
		lat, lon, _ := geo.Direct(baseLat, baseLon, azi, speedKmh/3.6*step*float64(i))
		out[i] = Fix{Time: at(step * float64(i)), Lat: lat, Lon: lon}
	}
	return out
}

// offset moves f by m metres heading azi.
func offset(f Fix, azi, m float64) Fix {
	f.Lat, f.Lon, _ = geo.Direct(f.Lat, f.Lon, azi, m)
	return f
}

// noisyRide is a 30-minute ride at 1 fix/3 s with ~4 m GPS noise, gentle
// turns and a few wild fixes: the benchmark input.
func noisyRide(seed uint64) []Fix {
	r := rand.New(rand.NewPCG(seed, 1))
	const n = 600
	out := make([]Fix, n)
	lat, lon, azi := baseLat, baseLon, 30.0
	for i := range out {
		azi += r.NormFloat64() * 10
		lat, lon, _ = geo.Direct(lat, lon, azi, 15) // 18 km/h
		f := Fix{Time: at(3 * float64(i)), Lat: lat, Lon: lon}
		f = offset(f, r.Float64()*360, r.Float64()*4)
		if i%97 == 50 {
			f = offset(f, r.Float64()*360, 2000) // multipath: 2 km off
		}
		out[i] = f
	}
	return out
}

func pt(f Fix) orb.Point { return orb.Point{f.Lon, f.Lat} }

func (f Fix) dist(g Fix) float64 { return geo.Distance(pt(f), pt(g)) }

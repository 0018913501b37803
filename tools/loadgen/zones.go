package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/fleetedge/fleetedge/shared/geo"
	"github.com/fleetedge/fleetedge/shared/zone"
	"github.com/fleetedge/fleetedge/tools/citymap"
)

// ErrZones is wrapped by every CityZones error.
var ErrZones = errors.New("loadgen: benchmark zones")

// ZoneOptions shapes the generated slow zones.
type ZoneOptions struct {
	// Total is the number of zones wanted in the output, the base file's
	// zones included (default 500).
	Total int
	// RadiusMetres is each slow zone's radius (default 35).
	RadiusMetres float64
	// GapMetres is the least distance between two generated zones' edges
	// (default 20), so borders stay distinct.
	GapMetres float64
	// Vertices per circle (default 24, like the rules benchmark).
	Vertices int
	// LimitsKmh are the speed limits given in turn (default 10, 15, 20).
	LimitsKmh []int
	Seed      uint64
}

func (o *ZoneOptions) defaults() {
	if o.Total <= 0 {
		o.Total = 500
	}
	if o.RadiusMetres <= 0 {
		o.RadiusMetres = 35
	}
	if o.GapMetres <= 0 {
		o.GapMetres = 20
	}
	if o.Vertices < 3 {
		o.Vertices = 24
	}
	if len(o.LimitsKmh) == 0 {
		o.LimitsKmh = []int{10, 15, 20}
	}
}

// CityZones returns base (a GBFS v3 geofencing_zones.json) with circular slow
// zones added on the streets of g until the document holds opts.Total zones.
// The new zones are inserted before the operating area (the feature whose
// properties.fleetedge.kind is "operating_area"; at the end when there is
// none), so they take precedence over it as GBFS orders zones; everything
// else of base is kept. The result is checked with zone.Load.
func CityZones(base []byte, g *citymap.Graph, opts ZoneOptions) ([]byte, error) {
	opts.defaults()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(base, &top); err != nil {
		return nil, fmt.Errorf("%w: base file: %v", ErrZones, err)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(top["data"], &data); err != nil {
		return nil, fmt.Errorf("%w: base file data: %v", ErrZones, err)
	}
	var fc struct {
		Type     string            `json:"type"`
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(data["geofencing_zones"], &fc); err != nil {
		return nil, fmt.Errorf("%w: base file geofencing_zones: %v", ErrZones, err)
	}
	want := opts.Total - len(fc.Features)
	if want < 0 {
		return nil, fmt.Errorf("%w: base file already has %d zones, more than %d", ErrZones, len(fc.Features), opts.Total)
	}
	centres := zoneCentres(g, want, opts)
	if len(centres) < want {
		return nil, fmt.Errorf("%w: the streets (%.0f m) fit only %d zones of radius %.0f m with %.0f m gaps, want %d",
			ErrZones, g.TotalLength(), len(centres), opts.RadiusMetres, opts.GapMetres, want)
	}
	at := len(fc.Features)
	for i, raw := range fc.Features {
		var f struct {
			Properties struct {
				Fleetedge struct {
					Kind string `json:"kind"`
				} `json:"fleetedge"`
			} `json:"properties"`
		}
		if json.Unmarshal(raw, &f) == nil && f.Properties.Fleetedge.Kind == "operating_area" {
			at = i
			break
		}
	}
	added := make([]json.RawMessage, 0, want)
	for i, c := range centres {
		limit := opts.LimitsKmh[i%len(opts.LimitsKmh)]
		raw, err := json.Marshal(slowZone(fmt.Sprintf("bench-slow-%03d", i+1), limit, circleRing(c, opts.RadiusMetres, opts.Vertices)))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrZones, err)
		}
		added = append(added, raw)
	}
	feats := make([]json.RawMessage, 0, opts.Total)
	feats = append(feats, fc.Features[:at]...)
	feats = append(feats, added...)
	feats = append(feats, fc.Features[at:]...)
	fc.Features = feats
	if fc.Type == "" {
		fc.Type = "FeatureCollection"
	}
	var err error
	if data["geofencing_zones"], err = json.Marshal(fc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrZones, err)
	}
	if top["data"], err = json.Marshal(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrZones, err)
	}
	out, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrZones, err)
	}
	set, err := zone.Load(out, zone.Options{})
	if err != nil {
		return nil, fmt.Errorf("%w: generated file does not load: %w", ErrZones, err)
	}
	if set.Len() != opts.Total {
		return nil, fmt.Errorf("%w: generated file has %d zones, want %d", ErrZones, set.Len(), opts.Total)
	}
	return append(out, '\n'), nil
}

// zoneCentres picks up to n points on the streets, at least 2r+gap apart,
// from candidates every r metres along every street segment, in a seeded
// random order.
func zoneCentres(g *citymap.Graph, n int, o ZoneOptions) []citymap.Point {
	var cand []citymap.Point
	for a, edges := range g.Adj {
		for _, e := range edges {
			if e.To < a { // each segment once
				continue
			}
			pa := g.Nodes[a]
			for d := o.RadiusMetres / 2; d < e.Length; d += o.RadiusMetres {
				lat, lon, _ := geo.Direct(pa.Lat, pa.Lon, e.Azimuth, d)
				cand = append(cand, citymap.Point{Lat: lat, Lon: lon})
			}
		}
	}
	sort.Slice(cand, func(i, j int) bool { // deterministic before the shuffle
		if cand[i].Lat != cand[j].Lat {
			return cand[i].Lat < cand[j].Lat
		}
		return cand[i].Lon < cand[j].Lon
	})
	rng := rand.New(rand.NewPCG(o.Seed, 0x20ae5))
	rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	minD := 2*o.RadiusMetres + o.GapMetres
	// A grid of cells minD wide: a conflicting centre is in the 3×3 around.
	cellDeg := minD / 111_000
	type cell struct{ x, y int }
	grid := map[cell][]citymap.Point{}
	key := func(p citymap.Point) cell {
		return cell{int(math.Floor(p.Lon / cellDeg)), int(math.Floor(p.Lat / cellDeg))}
	}
	var out []citymap.Point
	for _, p := range cand {
		if len(out) == n {
			break
		}
		k := key(p)
		ok := true
		for dx := -2; dx <= 2 && ok; dx++ {
			for dy := -2; dy <= 2 && ok; dy++ {
				for _, q := range grid[cell{k.x + dx, k.y + dy}] {
					if d, _, _ := geo.Inverse(p.Lat, p.Lon, q.Lat, q.Lon); d < minD {
						ok = false
						break
					}
				}
			}
		}
		if ok {
			grid[k] = append(grid[k], p)
			out = append(out, p)
		}
	}
	return out
}

// circleRing is a closed counterclockwise n-gon of radius r metres around c,
// as GeoJSON [lon, lat] pairs rounded to 1e-6°.
func circleRing(c citymap.Point, r float64, n int) [][2]float64 {
	ring := make([][2]float64, 0, n+1)
	for k := range n {
		// Azimuths decreasing clockwise-from-north = counterclockwise on the map.
		lat, lon, _ := geo.Direct(c.Lat, c.Lon, 360-float64(k)*360/float64(n), r)
		ring = append(ring, [2]float64{math.Round(lon*1e6) / 1e6, math.Round(lat*1e6) / 1e6})
	}
	return append(ring, ring[0])
}

type gbfsRule struct {
	RideStartAllowed   bool `json:"ride_start_allowed"`
	RideEndAllowed     bool `json:"ride_end_allowed"`
	RideThroughAllowed bool `json:"ride_through_allowed"`
	MaximumSpeedKPH    int  `json:"maximum_speed_kph"`
}

type gbfsFeature struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Properties struct {
		Name []struct {
			Text     string `json:"text"`
			Language string `json:"language"`
		} `json:"name"`
		Rules     []gbfsRule `json:"rules"`
		Fleetedge struct {
			Kind string `json:"kind"`
		} `json:"fleetedge"`
	} `json:"properties"`
	Geometry struct {
		Type        string           `json:"type"`
		Coordinates [][][][2]float64 `json:"coordinates"`
	} `json:"geometry"`
}

func slowZone(id string, limit int, ring [][2]float64) gbfsFeature {
	var f gbfsFeature
	f.Type, f.ID = "Feature", id
	f.Properties.Name = append(f.Properties.Name, struct {
		Text     string `json:"text"`
		Language string `json:"language"`
	}{Text: fmt.Sprintf("Benchmark slow zone %s (%d km/h)", id, limit), Language: "en"})
	f.Properties.Rules = []gbfsRule{{RideStartAllowed: true, RideEndAllowed: true, RideThroughAllowed: true, MaximumSpeedKPH: limit}}
	f.Properties.Fleetedge.Kind = "slow"
	f.Geometry.Type = "MultiPolygon"
	f.Geometry.Coordinates = [][][][2]float64{{ring}}
	return f
}

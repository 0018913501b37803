package democity

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/fleetedge/fleetedge/shared/geo"
	"github.com/fleetedge/fleetedge/tools/citymap"
)

// GBFS v3.0 geofencing_zones.json shapes (only what the demo writes).
type (
	zonesDoc struct {
		LastUpdated string    `json:"last_updated"`
		TTL         int       `json:"ttl"`
		Version     string    `json:"version"`
		Data        zonesData `json:"data"`
	}
	zonesData struct {
		GeofencingZones featureCollection `json:"geofencing_zones"`
		GlobalRules     []rule            `json:"global_rules"`
		Fleetedge       dataExtension     `json:"fleetedge"`
	}
	dataExtension struct {
		Timezone string `json:"timezone"`
	}
	featureCollection struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}
	feature struct {
		Type       string     `json:"type"`
		ID         string     `json:"id"`
		Properties properties `json:"properties"`
		Geometry   geometry   `json:"geometry"`
	}
	properties struct {
		Name      []localized `json:"name"`
		Rules     []rule      `json:"rules"`
		Fleetedge extension   `json:"fleetedge"`
	}
	localized struct {
		Text     string `json:"text"`
		Language string `json:"language"`
	}
	rule struct {
		RideStartAllowed   bool `json:"ride_start_allowed"`
		RideEndAllowed     bool `json:"ride_end_allowed"`
		RideThroughAllowed bool `json:"ride_through_allowed"`
		MaximumSpeedKPH    *int `json:"maximum_speed_kph,omitempty"`
	}
	extension struct {
		Kind         string `json:"kind"`
		AlarmOnEntry bool   `json:"alarm_on_entry,omitempty"`
	}
	geometry struct {
		Type        string           `json:"type"`
		Coordinates [][][][2]float64 `json:"coordinates"`
	}
)

func kph(v int) *int { return &v }

// Zones builds the Barcelona geofencing_zones.json (GBFS v3.0) for the street
// file f. Feature order is precedence (GBFS: the first matching zone wins):
// parking spots, then no-ride, slow and no-parking zones, then the operating
// area; outside every zone the global rules forbid riding.
func Zones(f *citymap.File, updated time.Time) ([]byte, error) {
	var feats []feature
	add := func(id, kind, ca, en string, alarm bool, r rule, ring []citymap.Point) {
		feats = append(feats, feature{
			Type: "Feature", ID: id,
			Properties: properties{
				Name:      []localized{{Text: ca, Language: "ca"}, {Text: en, Language: "en"}},
				Rules:     []rule{r},
				Fleetedge: extension{Kind: kind, AlarmOnEntry: alarm},
			},
			Geometry: geometry{Type: "MultiPolygon", Coordinates: [][][][2]float64{{closeCCW(ring)}}},
		})
	}
	open := rule{RideStartAllowed: true, RideEndAllowed: true, RideThroughAllowed: true}
	parkingOld := open
	parkingOld.MaximumSpeedKPH = kph(10)
	// Parking spots (old-town ones keep the old town's 10 km/h).
	add("parking-liceu", "parking", "Aparcament Liceu", "Parking Liceu", false, parkingOld, circle(citymap.Point{Lat: 41.3810, Lon: 2.1738}, 25, 12))
	add("parking-jaume-i", "parking", "Aparcament Jaume I", "Parking Jaume I", false, parkingOld, circle(citymap.Point{Lat: 41.3838, Lon: 2.1780}, 25, 12))
	for i, gc := range [][2]float64{{-4, 3}, {2, 4}, {6, 1}, {-9, 5}, {10, 2}} {
		id := fmt.Sprintf("parking-eixample-%d", i+1)
		add(id, "parking", fmt.Sprintf("Aparcament Eixample %d", i+1), fmt.Sprintf("Parking Eixample %d", i+1), false, open,
			circle(gridPoint(gc[0]+0.5, gc[1]), 20, 12))
	}
	// No-ride: the park (the gateway ramps the limit down, with the buzzer).
	add("no-ride-ciutadella", "no_ride", "Parc de la Ciutadella", "Ciutadella Park", true,
		rule{MaximumSpeedKPH: kph(0)}, ciutadella)
	// Slow squares.
	slow := rule{RideStartAllowed: true, RideEndAllowed: true, RideThroughAllowed: true, MaximumSpeedKPH: kph(10)}
	add("slow-sagrada-familia", "slow", "Sagrada Família", "Sagrada Família", false, slow, circle(sagrada, 160, 24))
	add("slow-tetuan", "slow", "Plaça de Tetuan", "Tetuan Square", false, slow, circle(plTetuan, 90, 16))
	add("slow-universitat", "slow", "Plaça de la Universitat", "University Square", false, slow, circle(plUniversitat, 80, 16))
	// No parking along Passeig de Gràcia.
	noPark := rule{RideStartAllowed: true, RideEndAllowed: false, RideThroughAllowed: true}
	add("no-parking-passeig-de-gracia", "no_parking", "Passeig de Gràcia", "Passeig de Gràcia", false, noPark, band(0, -1, 8, 25))
	// Old town: 10 km/h, park only in the marked spots listed above.
	add("slow-ciutat-vella", "slow", "Ciutat Vella (10 km/h)", "Old town (10 km/h)", false,
		rule{RideStartAllowed: true, RideEndAllowed: false, RideThroughAllowed: true, MaximumSpeedKPH: kph(10)}, ciutatVella)
	// Operating area: the streets (except the Diagonal west extension) and the park, 150 m around.
	add("operating-area", "operating_area", "Àrea de servei Barcelona", "Barcelona service area", false, open, operatingArea(f))
	doc := zonesDoc{
		LastUpdated: updated.UTC().Format(time.RFC3339),
		TTL:         60,
		Version:     "3.0",
		Data: zonesData{
			GeofencingZones: featureCollection{Type: "FeatureCollection", Features: feats},
			GlobalRules:     []rule{{MaximumSpeedKPH: kph(0)}},
			Fleetedge:       dataExtension{Timezone: "Europe/Madrid"},
		},
	}
	out, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return nil, fmt.Errorf("democity: zones: %w", err)
	}
	return append(out, '\n'), nil
}

// circle is an n-gon of radius r metres around c, counterclockwise.
func circle(c citymap.Point, r float64, n int) []citymap.Point {
	ring := make([]citymap.Point, 0, n)
	for k := range n {
		lat, lon, _ := geo.Direct(c.Lat, c.Lon, 360-float64(k)*360/float64(n), r)
		ring = append(ring, citymap.Point{Lat: lat, Lon: lon})
	}
	return ring
}

// band is a strip of half-width w metres along grid column col, rows r0..r1.
func band(col, r0, r1 int, w float64) []citymap.Point {
	off := w / pitch
	c := float64(col)
	return []citymap.Point{
		gridPoint(c-off, float64(r0)), gridPoint(c+off, float64(r0)),
		gridPoint(c+off, float64(r1)), gridPoint(c-off, float64(r1)),
	}
}

// operatingArea is the convex hull of the street nodes (minus the Diagonal's
// west extension, which stays outside on purpose) and the park, buffered by
// sampling 150 m circles around every point.
func operatingArea(f *citymap.File) []citymap.Point {
	var pts []citymap.Point
	for _, n := range f.Nodes {
		if westDiagonal[[2]float64{n[0], n[1]}] {
			continue
		}
		pts = append(pts, circle(citymap.Point{Lat: n[0], Lon: n[1]}, 150, 12)...)
	}
	for _, p := range ciutadella {
		pts = append(pts, circle(p, 150, 12)...)
	}
	return hull(pts)
}

// westDiagonal holds the nodes of the Diagonal beyond Francesc Macià.
var westDiagonal = func() map[[2]float64]bool {
	m := map[[2]float64]bool{}
	for _, pl := range polylines {
		if pl.name == "Avinguda Diagonal (oest)" {
			for _, p := range pl.pts[1:] {
				m[[2]float64{round6(p.Lat), round6(p.Lon)}] = true
			}
		}
	}
	return m
}()

// hull is the convex hull (monotone chain) in lon/lat, counterclockwise.
func hull(pts []citymap.Point) []citymap.Point {
	sort.Slice(pts, func(i, j int) bool {
		if pts[i].Lon != pts[j].Lon {
			return pts[i].Lon < pts[j].Lon
		}
		return pts[i].Lat < pts[j].Lat
	})
	cross := func(o, a, b citymap.Point) float64 {
		return (a.Lon-o.Lon)*(b.Lat-o.Lat) - (a.Lat-o.Lat)*(b.Lon-o.Lon)
	}
	var h []citymap.Point
	for _, p := range pts {
		for len(h) >= 2 && cross(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	lower := len(h) + 1
	for i := len(pts) - 2; i >= 0; i-- {
		p := pts[i]
		for len(h) >= lower && cross(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	return h[:len(h)-1]
}

// closeCCW returns ring as a closed GeoJSON ring ([lon, lat], first = last),
// counterclockwise as RFC 7946 wants for exterior rings.
func closeCCW(ring []citymap.Point) [][2]float64 {
	area := 0.0
	for i := range ring {
		a, b := ring[i], ring[(i+1)%len(ring)]
		area += a.Lon*b.Lat - b.Lon*a.Lat
	}
	out := make([][2]float64, 0, len(ring)+1)
	for i := range ring {
		p := ring[i]
		if area < 0 {
			p = ring[len(ring)-1-i]
		}
		out = append(out, [2]float64{round6(p.Lon), round6(p.Lat)})
	}
	return append(out, out[0])
}

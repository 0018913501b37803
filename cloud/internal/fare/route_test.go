package fare

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/shared/geo"
)

func TestRebuild(t *testing.T) {
	straight := track(11, 3, 18, 90) // 10 segments of 15 m = 150 m
	wild := func(in []Fix, i int, m float64) []Fix {
		out := slices.Clone(in)
		out[i] = offset(out[i], 0, m)
		return out
	}
	long := track(60, 3, 18, 45)
	burst := slices.Clone(long)
	for i := 20; i < 40; i++ { // 20 consecutive fixes 3 km away, consistent among themselves
		burst[i] = offset(long[20], 180, 3000)
		burst[i].Time = long[i].Time
	}
	slow := track(5, 3, 8, 0)
	side := slices.Clone(slow)
	side[2] = offset(side[2], 90, 10)
	tests := []struct {
		name        string
		in          []Fix
		opts        RouteOptions
		wantPoints  int
		wantDropped int
		wantLen     float64 // metres, ±0.01
		wantTimes   []time.Time
	}{
		{name: "empty", in: nil, wantPoints: 0},
		{name: "one fix", in: straight[:1], wantPoints: 1},
		{name: "straight line, no smoothing", in: straight, opts: RouteOptions{SmoothWindow: 1}, wantPoints: 11, wantLen: 150},
		{name: "straight line smoothed keeps length", in: straight, wantPoints: 11, wantLen: 150},
		{name: "unsorted input", in: []Fix{straight[3], straight[0], straight[2], straight[1]}, opts: RouteOptions{SmoothWindow: 1},
			wantPoints: 4, wantLen: 45, wantTimes: []time.Time{straight[0].Time, straight[1].Time, straight[2].Time, straight[3].Time}},
		{name: "duplicate timestamps keep the first", in: []Fix{straight[0], straight[1], {Time: straight[1].Time, Lat: 0, Lon: 0}, straight[2]},
			opts: RouteOptions{SmoothWindow: 1}, wantPoints: 3, wantDropped: 1, wantLen: 30},
		{name: "single wild fix in the middle", in: wild(straight, 5, 500), opts: RouteOptions{SmoothWindow: 1}, wantPoints: 10, wantDropped: 1, wantLen: 150},
		{name: "wrong first fix", in: wild(straight, 0, 5000), opts: RouteOptions{SmoothWindow: 1}, wantPoints: 10, wantDropped: 1, wantLen: 135},
		{name: "wrong last fix", in: wild(straight, 10, 5000), opts: RouteOptions{SmoothWindow: 1}, wantPoints: 10, wantDropped: 1, wantLen: 135},
		{name: "burst of wild fixes longer than the look-back", in: burst, opts: RouteOptions{SmoothWindow: 1}, wantPoints: 40, wantDropped: 20,
			wantLen: geo.Distance(pt(long[0]), pt(long[19])) + geo.Distance(pt(long[19]), pt(long[40])) + geo.Distance(pt(long[40]), pt(long[59]))},
		{name: "invalid coordinates dropped", in: []Fix{straight[0], {Time: at(1), Lat: math.NaN()}, {Time: at(2), Lat: 91}, {Time: at(2.5), Lon: 181}, {Lat: baseLat, Lon: baseLon}, straight[1]},
			opts: RouteOptions{SmoothWindow: 1}, wantPoints: 2, wantDropped: 4, wantLen: 15},
		{name: "a fast but possible move is kept", in: track(5, 1, 40, 0), opts: RouteOptions{SmoothWindow: 1}, wantPoints: 5, wantLen: 4 * 40 / 3.6},
		{name: "a 10 m sideways fix at 8 km/h is kept by default", in: side, opts: RouteOptions{SmoothWindow: 1}, wantPoints: 5,
			wantLen: slow[0].dist(slow[1]) + slow[1].dist(side[2]) + side[2].dist(slow[3]) + slow[3].dist(slow[4])},
		{name: "and dropped at 10 km/h max", in: side, opts: RouteOptions{SmoothWindow: 1, MaxSpeedKmh: 10}, wantPoints: 4, wantDropped: 1,
			wantLen: 4 * 3 * 8 / 3.6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			r := Rebuild(in, tc.opts)
			if !slices.EqualFunc(in, tc.in, sameFix) {
				t.Fatal("Rebuild modified its input")
			}
			if len(r.Points) != tc.wantPoints || r.Dropped != tc.wantDropped {
				t.Fatalf("points %d dropped %d, want %d, %d", len(r.Points), r.Dropped, tc.wantPoints, tc.wantDropped)
			}
			if math.Abs(r.LengthM-tc.wantLen) > 0.01 {
				t.Fatalf("length %.4f m, want %.4f", r.LengthM, tc.wantLen)
			}
			for i, want := range tc.wantTimes {
				if !r.Points[i].Time.Equal(want) {
					t.Fatalf("point %d at %v, want %v", i, r.Points[i].Time, want)
				}
			}
		})
	}
}

func sameFix(a, b Fix) bool {
	return a.Time.Equal(b.Time) && math.Float64bits(a.Lat) == math.Float64bits(b.Lat) && math.Float64bits(a.Lon) == math.Float64bits(b.Lon)
}

func TestRebuildSmoothing(t *testing.T) {
	// A zig-zag of ±5 m around a straight 15 m/3 s line: smoothing must cut
	// the noise and keep the end points exactly.
	clean := track(41, 3, 18, 0)
	noisy := slices.Clone(clean)
	for i := 1; i < len(noisy)-1; i++ {
		side := 90.0
		if i%2 == 0 {
			side = 270
		}
		noisy[i] = offset(noisy[i], side, 5)
	}
	raw := Rebuild(noisy, RouteOptions{SmoothWindow: 1})
	sm := Rebuild(noisy, RouteOptions{})
	sm5 := Rebuild(noisy, RouteOptions{SmoothWindow: 4}) // widened to 5
	truth := geo.Distance(pt(clean[0]), pt(clean[40]))
	if !(sm.LengthM < raw.LengthM && sm5.LengthM < sm.LengthM) {
		t.Fatalf("lengths raw %.1f, w3 %.1f, w5 %.1f: smoothing must shorten a zig-zag", raw.LengthM, sm.LengthM, sm5.LengthM)
	}
	if err := math.Abs(sm.LengthM-truth) / truth; err > 0.05 {
		t.Fatalf("smoothed length %.1f m vs %.1f m true (%.1f%%)", sm.LengthM, truth, err*100)
	}
	if sm.Points[0] != noisy[0] || sm.Points[40] != noisy[40] {
		t.Fatal("end points moved by smoothing")
	}
}

func TestRebuildAntimeridian(t *testing.T) {
	in := []Fix{
		{Time: at(0), Lat: 10, Lon: 179.9999},
		{Time: at(3), Lat: 10, Lon: -179.9999},
		{Time: at(6), Lat: 10, Lon: -179.9997},
	}
	r := Rebuild(in, RouteOptions{})
	if len(r.Points) != 3 || math.Abs(r.Points[1].Lon) < 179.99 {
		t.Fatalf("points %+v: the middle fix averaged across the globe", r.Points)
	}
	if r.LengthM > 50 {
		t.Fatalf("length %.1f m", r.LengthM)
	}
}

func TestGeoJSON(t *testing.T) {
	r := Route{Points: []Fix{{Time: at(0), Lat: 41.123456789, Lon: 2.1}, {Time: at(3), Lat: -0.5, Lon: -179.99999999}}}
	got := string(r.GeoJSON())
	want := `{"type":"LineString","coordinates":[[2.1,41.1234568],[-180,-0.5]]}`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	var v struct {
		Type        string      `json:"type"`
		Coordinates [][]float64 `json:"coordinates"`
	}
	if err := json.Unmarshal(Route{}.GeoJSON(), &v); err != nil || v.Type != "LineString" || len(v.Coordinates) != 0 {
		t.Fatalf("empty route: %v %+v", err, v)
	}
}

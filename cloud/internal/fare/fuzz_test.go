package fare

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// fixesFromBytes turns fuzz bytes into fixes, 7 bytes each: uint16 seconds,
// int16 lat and lon offsets (1e-5° units, about ±35 km) and a mode byte
// that makes some fixes invalid or puts them at the pole / antimeridian.
func fixesFromBytes(data []byte) []Fix {
	var out []Fix
	for ; len(data) >= 7; data = data[7:] {
		sec := binary.LittleEndian.Uint16(data)
		dlat := float64(int16(binary.LittleEndian.Uint16(data[2:]))) * 1e-5
		dlon := float64(int16(binary.LittleEndian.Uint16(data[4:]))) * 1e-5
		f := Fix{Time: t0.Add(time.Duration(sec) * time.Second), Lat: baseLat + dlat, Lon: baseLon + dlon}
		switch data[6] % 10 {
		case 5:
			f.Lat = math.NaN()
		case 6:
			f.Lon = 180.5
		case 7:
			f.Lat, f.Lon = 89.9999+dlat*1e-3, 179.99999+dlon
			f.Lon = wrapLon(f.Lon)
		case 8:
			f.Time = time.Time{}
		case 9:
			f.Lat = math.Inf(-1)
		}
		out = append(out, f)
	}
	return out
}

// FuzzRebuild: Rebuild never panics; the length is finite and ≥ 0; every
// input fix is either kept or counted as dropped; kept points are strictly
// increasing in time, each at an input fix's time, valid coordinates; with
// smoothing off they are input fixes and consecutive ones respect the
// speed limit; GeoJSON is valid JSON.
func FuzzRebuild(f *testing.F) {
	f.Add([]byte{}, 0.0, 0)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 3, 0, 10, 0, 10, 0, 0, 6, 0, 20, 0, 20, 0, 0}, 45.0, 1)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 10, 0, 10, 0, 6, 0, 20, 0, 20, 0, 7, 9, 0, 1, 0, 1, 0, 5}, 10.0, 4)
	f.Fuzz(func(t *testing.T, data []byte, maxSpeed float64, window int) {
		window %= 50 // keep a huge window from making the fuzzer slow
		fixes := fixesFromBytes(data)
		o := RouteOptions{MaxSpeedKmh: maxSpeed, SmoothWindow: window}
		r := Rebuild(fixes, o)
		if !(r.LengthM >= 0) || math.IsInf(r.LengthM, 0) {
			t.Fatalf("length %v", r.LengthM)
		}
		if len(r.Points)+r.Dropped != len(fixes) || r.Dropped < 0 {
			t.Fatalf("%d points + %d dropped != %d fixes", len(r.Points), r.Dropped, len(fixes))
		}
		inputAt := map[int64][]Fix{}
		for _, fx := range fixes {
			inputAt[fx.Time.UnixNano()] = append(inputAt[fx.Time.UnixNano()], fx)
		}
		raw := o.withDefaults().SmoothWindow == 1
		maxMps := o.withDefaults().MaxSpeedKmh / 3.6
		for i, p := range r.Points {
			if !validFix(p) {
				t.Fatalf("point %d invalid: %+v", i, p)
			}
			if i > 0 && !p.Time.After(r.Points[i-1].Time) {
				t.Fatalf("point %d not after point %d", i, i-1)
			}
			cands, ok := inputAt[p.Time.UnixNano()]
			if !ok {
				t.Fatalf("point %d at %v: no input fix then", i, p.Time)
			}
			if raw {
				found := false
				for _, c := range cands {
					found = found || sameFix(c, p)
				}
				if !found {
					t.Fatalf("point %d %+v is not an input fix", i, p)
				}
				if i > 0 && !consistent(r.Points[i-1], p, maxMps*(1+1e-9)) {
					t.Fatalf("points %d→%d faster than %v m/s", i-1, i, maxMps)
				}
			}
		}
		if !json.Valid(r.GeoJSON()) {
			t.Fatalf("invalid GeoJSON %s", r.GeoJSON())
		}
	})
}

package democity

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/shared/zone"
	"github.com/fleetedge/fleetedge/tools/citymap"
)

// Updated is the last_updated stamp of the committed zones file.
var updated = Updated

func TestStreetsConnectedAndPlausible(t *testing.T) {
	f, err := Streets()
	if err != nil {
		t.Fatal(err)
	}
	g, err := citymap.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, n := g.Components(); n != 1 {
		t.Fatalf("%d components", n)
	}
	km := g.TotalLength() / 1000
	t.Logf("%d nodes, %d edges, %.1f km of street", len(g.Nodes), g.EdgeCount(), km)
	if len(g.Nodes) < 300 || km < 60 || km > 200 {
		t.Fatalf("nodes=%d length=%.1f km: not a city-sized network", len(g.Nodes), km)
	}
	for i, n := range g.Nodes {
		if n.Lat < 41.37 || n.Lat > 41.415 || n.Lon < 2.12 || n.Lon > 2.20 {
			t.Fatalf("node %d %+v outside central Barcelona", i, n)
		}
	}
}

func TestZonesLoadAndClassify(t *testing.T) {
	f, err := Streets()
	if err != nil {
		t.Fatal(err)
	}
	data, err := Zones(f, updated)
	if err != nil {
		t.Fatal(err)
	}
	set, err := zone.Load(data, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		p           citymap.Point
		through     bool
		end         bool
		limited     bool
		maxKPH      int
		containsAny string
	}{
		{"Eixample block", gridPoint(-5, 4), true, true, false, 0, "operating-area"},
		{"La Rambla", citymap.Point{Lat: 41.3823, Lon: 2.1728}, true, false, true, 10, "slow-ciutat-vella"},
		{"Liceu parking", citymap.Point{Lat: 41.3810, Lon: 2.1738}, true, true, true, 10, "parking-liceu"},
		{"Sagrada Família", sagrada, true, true, true, 10, "slow-sagrada-familia"},
		{"Ciutadella", citymap.Point{Lat: 41.3870, Lon: 2.1880}, false, false, true, 0, "no-ride-ciutadella"},
		{"Passeig de Gràcia", gridPoint(0, 3.5), true, false, false, 0, "no-parking-passeig-de-gracia"},
		{"Pedralbes side, outside", citymap.Point{Lat: 41.3880, Lon: 2.1270}, false, false, true, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := set.Evaluate(orb.Point{tt.p.Lon, tt.p.Lat}, "scooter", now)
			if v.RideThroughAllowed != tt.through || v.RideEndAllowed != tt.end || v.SpeedLimited != tt.limited || (tt.limited && v.MaxSpeedKPH != tt.maxKPH) {
				t.Fatalf("verdict %+v", v)
			}
			if tt.containsAny == "" {
				if len(v.Containing) != 0 {
					t.Fatalf("inside %v, want outside every zone", v.Containing)
				}
				return
			}
			want, ok := set.Lookup(tt.containsAny)
			if !ok || len(v.Containing) == 0 || v.Containing[0] != want {
				t.Fatalf("first containing zone %v, want %s (%d)", v.Containing, tt.containsAny, want)
			}
		})
	}
	// Every street node except the Diagonal's west extension is in the operating area.
	g, err := citymap.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	outside := 0
	for _, n := range g.Nodes {
		if len(set.Evaluate(orb.Point{n.Lon, n.Lat}, "scooter", now).Containing) == 0 {
			outside++
		}
	}
	if outside != 2 {
		t.Fatalf("%d street nodes outside every zone, want the 2 of the Diagonal west extension", outside)
	}
}

// TestCommittedFilesUpToDate fails when deploy/demo/barcelona differs from what
// the generator produces (regenerate with: scooter-sim gen-city).
func TestCommittedFilesUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "demo", "barcelona")
	f, err := Streets()
	if err != nil {
		t.Fatal(err)
	}
	streets, err := citymap.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	zones, err := Zones(f, updated)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"streets.json": streets, "geofencing_zones.json": zones} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: regenerate with `go run ./tools/cmd/scooter-sim gen-city --out deploy/demo/barcelona`", name)
		}
		if !json.Valid(got) {
			t.Errorf("%s is not JSON", name)
		}
	}
}

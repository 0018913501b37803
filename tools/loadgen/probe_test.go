package loadgen

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/shared/geo"
	"github.com/fleetedge/fleetedge/shared/zone"
)

func TestHysteresisProbe(t *testing.T) {
	base, g := demoCity(t)
	out, err := CityZones(base, g, ZoneOptions{Total: 500, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	set, err := zone.Load(out, zone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	probe := HysteresisProbe(set, "", 10, nil)
	plain := HysteresisProbe(set, "", 0, nil)
	// A generated zone (radius 35 m) whose surroundings have another limit.
	var (
		idx int
		c   orb.Point
	)
	at := func(m float64) (float64, float64) {
		lat, lon, _ := geo.Direct(c.Lat(), c.Lon(), 90, m)
		return lat, lon
	}
	found := false
	for n := 1; n <= 400 && !found; n++ {
		i, ok := set.Lookup(fmt.Sprintf("bench-slow-%03d", n))
		if !ok {
			continue
		}
		z, _ := set.Zone(i)
		idx, c = i, z.Bound.Center()
		found = plain(at(5)) != plain(at(50))
	}
	if !found {
		t.Fatal("no generated zone with another limit around it")
	}
	id := "|" + strconv.Itoa(idx)
	deep, near, nearOut, far := probe(at(5)), probe(at(31)), probe(at(39)), probe(at(50))
	if deep != plain(at(5)) || strings.Contains(deep, "|") {
		t.Errorf("deep inside: %q, want the bare limit %q", deep, plain(at(5)))
	}
	if near != deep+id {
		t.Errorf("4 m inside: %q, want %q", near, deep+id)
	}
	if nearOut != plain(at(50))+id {
		t.Errorf("4 m outside: %q, want %q", nearOut, plain(at(50))+id)
	}
	if far != plain(at(50)) {
		t.Errorf("15 m outside: %q, want %q", far, plain(at(50)))
	}
}

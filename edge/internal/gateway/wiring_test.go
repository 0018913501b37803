package gateway

import (
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// TestSlowZoneCommandRoundTrip runs the whole chain in the gateway: a riding
// scooter's fix inside the old-town slow zone (10 km/h for scooters) makes the
// rules send 13 with k=2010 through the command queue and the broker; the
// scooter's 14 ack completes the command; leaving the zone restores its
// normal limit (25); every outcome is a command_result event in the outbox.
func TestSlowZoneCommandRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.VehiclesFile = filepath.Join(dir, "vehicles.json")
	cfg.ZonesFile = filepath.Join("testdata", "zones.json")
	secrets := writeVehicles(t, cfg.VehiclesFile, cfg.City, 1, "S1")
	r := start(t, cfg)
	c, err := mqttConnect(t, "tcp://"+r.g.Addrs().MQTT["tcp"], "S1", secrets["S1"])
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	// The scooter obeys and acks every speed-limit command.
	onCmd := func(cl paho.Client, m paho.Message) {
		mu.Lock()
		got = append(got, string(m.Payload()))
		mu.Unlock()
		var cmd struct{ A int }
		if json.Unmarshal(m.Payload(), &cmd) == nil && cmd.A == 13 {
			cl.Publish("bike", 1, false, `{"a":14,"i":"S1","t":77,"s":0}`)
		}
	}
	if tok := c.Subscribe("S1", 1, onCmd); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("subscribe")
	}
	pub := func(p string) {
		t.Helper()
		if tok := c.Publish("bike", 1, false, p); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", p, tok.Error())
		}
	}
	commands := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }

	pub(`{"a":27,"i":"S1","b":90,"c":0,"s":0,"r":40.1,"x":3}`) // powered on: riding
	pub(`{"a":19,"i":"S1","g":"4025.6800,-342.4800,0,0","t":1764072000}`)
	waitFor(t, "13 with the slow-zone limit", func() bool { cs := commands(); return len(cs) == 1 && cs[0] == `{"a":13,"k":2010}` })
	pub(`{"a":19,"i":"S1","g":"4024.0000,-343.2000,0,0","t":1764072005}`)
	waitFor(t, "13 with the normal limit", func() bool { cs := commands(); return len(cs) == 2 && cs[1] == `{"a":13,"k":2025}` })

	var v vehicleBody
	getJSON(t, "http://"+r.g.Addrs().HTTP+"/api/v1/vehicles/S1", &v)
	if v.Rules == nil || !v.Rules.Riding || v.Rules.NoRide || v.Rules.LimitKmh == nil || *v.Rules.LimitKmh != 25 {
		t.Fatalf("rules state in the API: %+v", v.Rules)
	}
	waitFor(t, "two acked command_result events", func() bool {
		recs, err := r.g.Outbox().Read(0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		acked := 0
		for _, rec := range recs {
			if rec.Kind != string(link.EventCommand) {
				continue
			}
			var ev link.Event
			if err := json.Unmarshal(rec.Payload, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Command.Code == 13 && ev.Command.Outcome == link.OutcomeAcked &&
				(ev.Command.Source == "rule:slow_zone" || ev.Command.Source == "rule:normal_limit") {
				acked++
			}
		}
		return acked == 2
	})
}

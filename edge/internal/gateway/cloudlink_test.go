package gateway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// TestCloudLink: zones put in the city's KV bucket reach the rules engine and
// the configstore; a restart without the cloud starts from them; a cloud
// command reaches the command manager and is answered.
func TestCloudLink(t *testing.T) {
	url := startCloudNATS(t)
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.VehiclesFile = filepath.Join(dir, "vehicles.json")
	writeVehicles(t, cfg.VehiclesFile, cfg.City, 1, "S1")
	cfg.Cloud.NATSURL = url
	r := start(t, cfg)

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: link.ConfigBucket(link.CityID(cfg.City)), History: 5})
	if err != nil {
		t.Fatal(err)
	}
	geo, err := os.ReadFile(filepath.Join("testdata", "zones.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(link.ZonesDoc{V: link.Version, City: link.CityID(cfg.City), Version: 4, Geofence: geo})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), link.ConfigZones, doc); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "zones in the rules engine", func() bool { z := r.g.rules.Zones(); return z != nil && z.Len() > 0 })

	// S1 is configured but offline: the command waits, the reply says so.
	req, _ := json.Marshal(link.CommandRequest{V: link.Version, ID: "c1", Vehicle: "S1", Code: 1, TimeoutMs: 100})
	var msg *nats.Msg
	waitFor(t, "command answered", func() bool {
		msg, err = nc.Request(link.CommandSubject(link.CityID(cfg.City)), req, 3*time.Second)
		return err == nil
	})
	var res link.CommandResult
	if err := json.Unmarshal(msg.Data, &res); err != nil || res.ID != "c1" || res.Outcome != link.OutcomeTimeout {
		t.Fatalf("%s %v", msg.Data, err)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	// Restart standalone: the pushed zones come from the store.
	cfg.Cloud.NATSURL = ""
	r2 := start(t, cfg)
	if z := r2.g.rules.Zones(); z == nil || z.Len() == 0 {
		t.Fatal("stored zones not loaded at start")
	}
}

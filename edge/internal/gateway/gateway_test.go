package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
)

// writeVehicles writes a VehiclesDoc with fresh secrets and returns the secrets.
func writeVehicles(t testing.TB, path, city string, version int64, ids ...string) map[string]string {
	t.Helper()
	doc := link.VehiclesDoc{V: link.Version, City: link.CityID(city), Version: version, Updated: time.Now().UTC()}
	secrets := map[string]string{}
	for _, id := range ids {
		s, h, err := devicecred.Generate()
		if err != nil {
			t.Fatal(err)
		}
		secrets[id] = s
		doc.Vehicles = append(doc.Vehicles, link.VehicleConfig{ID: id, Type: "scooter", CredentialHash: h, NormalLimitKmh: 25})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return secrets
}

func testConfig(dir string) Config {
	cfg := Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.MQTT.TCPAddr = "127.0.0.1:0"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.City = "testcity"
	return cfg
}

type running struct {
	g    *Gateway
	stop func() error
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	g, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	waitFor(t, "ready", func() bool {
		res, err := http.Get("http://" + g.Addrs().HTTP + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	var stopped bool
	r := &running{g: g, stop: func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return errors.Join(err, g.Close())
		case <-time.After(10 * time.Second):
			return errors.New("Run did not return")
		}
	}}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	})
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mqttConnect(t *testing.T, url, id, secret string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetUsername(id).SetPassword(secret).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).SetProtocolVersion(4)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, errors.New("connect timeout")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func getJSON(t *testing.T, url string, into any) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if into != nil {
		if err := json.NewDecoder(res.Body).Decode(into); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	return res.StatusCode
}

func getText(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGatewayEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.VehiclesFile = filepath.Join(dir, "vehicles.json")
	cfg.ZonesFile = filepath.Join("testdata", "zones.json")
	secrets := writeVehicles(t, cfg.VehiclesFile, cfg.City, 1, "S1", "S2")
	r := start(t, cfg)
	addrs := r.g.Addrs()
	api := "http://" + addrs.HTTP

	c, err := mqttConnect(t, "tcp://"+addrs.MQTT["tcp"], "S1", secrets["S1"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mqttConnect(t, "tcp://"+addrs.MQTT["tcp"], "S2", "wrong"); err == nil {
		t.Fatal("wrong secret accepted")
	}
	for _, p := range []string{
		`{"a":19,"i":"S1","g":"4025.2000,-342.0000,0,0","t":1764072000}`,
		`{"a":27,"i":"S1","b":64,"c":0,"s":0,"r":38.1,"v":25,"x":3}`,
		`{"a":16,"i":"S1","s":0,"k":25,"p":14.5,"e":0,"b":64,"y":1,"q":1,"w":1,"z":1,"c":0}`,
	} {
		tok := c.Publish("bike", 1, false, p)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}

	var list vehicleList
	if code := getJSON(t, api+"/api/v1/vehicles?state=online", &list); code != 200 || list.Count != 1 {
		t.Fatalf("online list: %d %+v", code, list)
	}
	v := list.Vehicles[0]
	if v.ID != "S1" || v.Type != "scooter" || *v.BatteryPct != 64 || !*v.Powered || *v.SpeedKmh != 14.5 ||
		*v.NormalKmh != 25 || v.Position == nil || v.Position.Lat < 40.42 || v.Position.Lon > -3.69 || v.ErrorText != "no fault" {
		t.Fatalf("vehicle body %+v", v)
	}
	if code := getJSON(t, api+"/api/v1/vehicles?state=offline", &list); code != 200 || list.Count != 1 || list.Vehicles[0].ID != "S2" {
		t.Fatalf("offline list: %+v", list)
	}
	var one vehicleBody
	if code := getJSON(t, api+"/api/v1/vehicles/S1", &one); code != 200 || one.ID != "S1" {
		t.Fatalf("get: %d %+v", code, one)
	}
	for url, want := range map[string]int{
		"/api/v1/vehicles/NOPE":       404,
		"/api/v1/vehicles/bad.id":     400,
		"/api/v1/vehicles?state=gone": 400,
		"/api/v1/vehicles?limit=-1":   400,
		"/healthz":                    200,
		"/readyz":                     200,
	} {
		if code := getJSON(t, api+url, nil); code != want {
			t.Errorf("GET %s = %d, want %d", url, code, want)
		}
	}
	var st statusBody
	getJSON(t, api+"/api/v1/status", &st)
	if st.Zones != 6 || st.Vehicles["configured"] != 2 || st.Vehicles["online"] != 1 || st.Outbox.Records < 3 {
		t.Fatalf("status %+v", st)
	}
	metrics := getText(t, api+"/metrics")
	for _, want := range []string{
		`fleetedge_ingest_messages_total{code="19"} 1`,
		`fleetedge_ingest_messages_total{code="27"} 1`,
		`fleetedge_vehicles_connected 1`,
		`fleetedge_vehicles{state="online"} 1`,
		`fleetedge_broker_auth_total{result="rejected"} 1`,
		`fleetedge_outbox_records{class="telemetry"} 3`,
		`fleetedge_zones 6`,
		`fleetedge_gateway_info{city="testcity",gateway_id="demo-gw-1"} 1`,
		`fleetedge_ingest_latency_seconds_count 3`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	// Restart on the same data without files: vehicles and zones come from the store,
	// the reports are still in the outbox.
	cfg.VehiclesFile, cfg.ZonesFile = "", ""
	r2 := start(t, cfg)
	addrs = r2.g.Addrs()
	if _, err := mqttConnect(t, "tcp://"+addrs.MQTT["tcp"], "S2", secrets["S2"]); err != nil {
		t.Fatalf("stored credentials not used after restart: %v", err)
	}
	getJSON(t, "http://"+addrs.HTTP+"/api/v1/status", &st)
	if st.Zones != 6 || st.Vehicles["configured"] != 2 {
		t.Fatalf("status after restart %+v", st)
	}
	recs, err := r2.g.Outbox().Read(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	reports := 0
	for _, rec := range recs {
		if rec.Kind == "report" {
			reports++
		}
	}
	if reports != 3 {
		t.Fatalf("%d reports in the outbox after restart, want 3", reports)
	}
}

func TestVehiclesFileRejected(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]func(path string){
		"other city": func(p string) { writeVehicles(t, p, "elsewhere", 1, "A") },
		"bad hash": func(p string) {
			writeFile(t, p, `{"v":1,"city":"testcity","version":1,"vehicles":[{"id":"A","credential_hash":"sha256:00"}]}`)
		},
		"bad id": func(p string) {
			writeFile(t, p, `{"v":1,"city":"testcity","version":1,"vehicles":[{"id":"a b","credential_hash":"`+devicecred.Hash("x")+`"}]}`)
		},
		"unknown field": func(p string) { writeFile(t, p, `{"v":1,"city":"testcity","version":1,"vehicle":[]}`) },
		"not json":      func(p string) { writeFile(t, p, `{`) },
	}
	for name, write := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(filepath.Join(dir, strings.ReplaceAll(name, " ", "_")))
			cfg.VehiclesFile = filepath.Join(t.TempDir(), "v.json")
			write(cfg.VehiclesFile)
			g, err := New(cfg, nil)
			if err == nil {
				g.Close()
				t.Fatal("New accepted the file")
			}
			if !errors.Is(err, ErrVehicles) {
				t.Fatalf("err = %v, want ErrVehicles", err)
			}
		})
	}
	t.Run("bad zones", func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.ZonesFile = filepath.Join(t.TempDir(), "z.json")
		writeFile(t, cfg.ZonesFile, `{"type":"FeatureCollection","features":[{"type":"Feature"}]}`)
		if g, err := New(cfg, nil); !errors.Is(err, ErrZones) {
			if g != nil {
				g.Close()
			}
			t.Fatalf("err = %v, want ErrZones", err)
		}
	})
}

// TestVehiclesFileWins: a file with an older version than the stored list
// still replaces it (the operator's file is authoritative at start).
func TestVehiclesFileWins(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.VehiclesFile = filepath.Join(dir, "v.json")
	writeVehicles(t, cfg.VehiclesFile, cfg.City, 5, "A", "B")
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	secrets := writeVehicles(t, cfg.VehiclesFile, cfg.City, 2, "C")
	g, err = New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.vehicles.Len() != 1 {
		t.Fatalf("%d vehicles, want the file's 1", g.vehicles.Len())
	}
	d, ok := g.vehicles.Credential("C")
	if !ok || !d.Matches([]byte(secrets["C"])) {
		t.Fatal("file's credential not applied")
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestListenersBusy(t *testing.T) {
	cfg := testConfig(t.TempDir())
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cfg2 := testConfig(t.TempDir())
	cfg2.HTTP.Addr = g.Addrs().HTTP
	if g2, err := New(cfg2, nil); err == nil {
		g2.Close()
		t.Fatal("second gateway bound a busy HTTP port")
	}
	// The same data dir is locked by the first gateway.
	cfg3 := testConfig("")
	cfg3.DataDir = cfg.DataDir
	if g3, err := New(cfg3, nil); err == nil {
		g3.Close()
		t.Fatal("second gateway opened a data dir in use")
	}
}

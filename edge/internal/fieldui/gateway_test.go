package fieldui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/command"
	"github.com/fleetedge/fleetedge/edge/internal/fieldui"
	"github.com/fleetedge/fleetedge/edge/internal/fieldui/fieldtest"
	"github.com/fleetedge/fleetedge/edge/internal/gateway"
	"github.com/fleetedge/fleetedge/protocol"
)

// startGateway runs a real gateway (broker, ingest, command queue, outbox,
// field UI) on :0 ports with simulated scooters (real paho MQTT clients
// authenticated with their own credentials) connected to it.
func startGateway(t *testing.T, n int) (base string, files fieldtest.Files, fl *fieldtest.Scooters, g *gateway.Gateway, stop func()) {
	t.Helper()
	dir := t.TempDir()
	files, err := fieldtest.Provision(dir, n)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gateway.Default()
	cfg.City, cfg.DataDir = fieldtest.City, dir
	cfg.MQTT.TCPAddr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.VehiclesFile, cfg.ZonesFile, cfg.UI.AccountsFile = files.Vehicles, files.Zones, files.Accounts
	cfg.UI.CommandTimeout = gateway.Duration(5 * time.Second)
	g, err = gateway.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	fl, err = fieldtest.Connect(g.Addrs().MQTT["tcp"], files.Creds, 300*time.Millisecond)
	if err != nil {
		cancel()
		<-done
		_ = g.Close()
		t.Fatal(err)
	}
	stop = func() {
		_ = fl.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if err := g.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	return "http://" + g.Addrs().HTTP, files, fl, g, stop
}

func TestGatewayUIWithScooters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gateway and simulated scooters")
	}
	base, files, fl, g, stop := startGateway(t, 3)
	defer stop()
	id := files.Creds[0].ID

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	post := func(path, body, csrf string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set(fieldui.CSRFHeader, csrf)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	get := func(path string, v any) int {
		t.Helper()
		resp, err := hc.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	code, body := post("/ui/api/login", `{"username":"`+fieldtest.User+`","password":"`+fieldtest.Password+`"}`, "")
	if code != http.StatusOK {
		t.Fatalf("login: %d %s", code, body)
	}
	var sess struct {
		CSRF string `json:"csrf"`
	}
	if err := json.Unmarshal(body, &sess); err != nil || sess.CSRF == "" {
		t.Fatalf("session: %v %s", err, body)
	}

	t.Run("beep reaches the scooter", func(t *testing.T) {
		code, body := post("/ui/api/vehicles/"+id+"/commands", `{"action":"beep"}`, sess.CSRF)
		var out struct {
			Outcome string `json:"outcome"`
			Code    int    `json:"code"`
			NoReply bool   `json:"no_reply"`
		}
		if err := json.Unmarshal(body, &out); err != nil || code != http.StatusOK || out.Outcome != "acked" || out.Code != 28 || !out.NoReply {
			t.Fatalf("beep: %d %s", code, body)
		}
		sc, _ := fl.Get(id)
		waitFor(t, "the scooter to record the 28", func() bool { return slices.Contains(sc.Commands(), 28) })
	})

	t.Run("query returns the scooter's reply", func(t *testing.T) {
		code, body := post("/ui/api/vehicles/"+id+"/commands", `{"action":"query_params"}`, sess.CSRF)
		var out struct {
			Outcome   string          `json:"outcome"`
			ReplyCode int             `json:"reply_code"`
			Reply     json.RawMessage `json:"reply"`
		}
		if err := json.Unmarshal(body, &out); err != nil || code != http.StatusOK || out.Outcome != "acked" || out.ReplyCode != 16 {
			t.Fatalf("query params: %d %s", code, body)
		}
		if !strings.Contains(string(out.Reply), `"`+id+`"`) {
			t.Fatalf("reply does not come from %s: %s", id, out.Reply)
		}
	})

	t.Run("vehicle page shows the command's event", func(t *testing.T) {
		waitFor(t, "the command_result event in the vehicle's history", func() bool {
			var v struct {
				Events []struct {
					Kind  string          `json:"kind"`
					Event json.RawMessage `json:"event"`
				} `json:"events"`
				Positions []any `json:"positions"`
			}
			get("/ui/api/vehicles/"+id, &v)
			for _, e := range v.Events {
				if e.Kind == "command_result" && strings.Contains(string(e.Event), `"source":"fieldui:`+fieldtest.User+`"`) {
					return len(v.Positions) > 0
				}
			}
			return false
		})
	})

	t.Run("fallen scooter needs attention", func(t *testing.T) {
		fallen := files.Creds[1].ID
		sc, _ := fl.Get(fallen)
		sc.SetFallen(true)
		waitFor(t, fallen+" in the attention list", func() bool {
			var l struct {
				Vehicles []struct {
					ID  string   `json:"id"`
					Cat string   `json:"cat"`
					Att []string `json:"att"`
				} `json:"vehicles"`
			}
			get("/ui/api/vehicles?attention=1&q="+strings.ToLower(fallen), &l)
			return len(l.Vehicles) == 1 && l.Vehicles[0].Cat == fieldui.CatFallen && slices.Contains(l.Vehicles[0].Att, "fallen")
		})
	})

	t.Run("firmware upgrade progress", func(t *testing.T) {
		v := files.Creds[2].ID
		job, err := g.Commands().StartUpgrade(protocol.VehicleID(v), make([]byte, 3*1024), command.UpgradeOptions{
			Source: "test", ResultTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		defer job.Cancel()
		// Every package is taken; the job waits for the scooter's 69.
		waitFor(t, "the upgrade's progress on the vehicle page", func() bool {
			var d struct {
				Upgrade *struct {
					State       string `json:"state"`
					Sent, Total int
				} `json:"upgrade"`
				Events []struct{ Kind string } `json:"events"`
			}
			get("/ui/api/vehicles/"+v, &d)
			return d.Upgrade != nil && d.Upgrade.State == "running" && d.Upgrade.Sent == 3 && d.Upgrade.Total == 3 &&
				slices.ContainsFunc(d.Events, func(e struct{ Kind string }) bool { return e.Kind == "firmware" })
		})
	})

	t.Run("live stream starts with every vehicle", func(t *testing.T) {
		resp, err := hc.Get(base + "/ui/api/live")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("content type %q", ct)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var snap struct {
					Changed []struct {
						ID  string   `json:"id"`
						Lat *float64 `json:"lat"`
					} `json:"changed"`
				}
				if err := json.Unmarshal([]byte(data), &snap); err != nil {
					t.Fatal(err)
				}
				if len(snap.Changed) != 3 {
					t.Fatalf("snapshot has %d vehicles, want 3", len(snap.Changed))
				}
				return
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

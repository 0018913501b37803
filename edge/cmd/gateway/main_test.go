package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetedge/fleetedge/edge/internal/broker"
	"github.com/fleetedge/fleetedge/edge/internal/gateway"
	"github.com/fleetedge/fleetedge/edge/internal/outbox"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
)

// TestNoDatabaseDrivers: the gateway binary never links the cloud's database
// drivers (STYLE.md, "Leaves and direction").
func TestNoDatabaseDrivers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := string(out)
	if !strings.Contains(deps, "github.com/mochi-mqtt/server/v2") {
		t.Fatalf("go list -deps output does not look like the gateway's:\n%s", deps)
	}
	for _, banned := range []string{"github.com/jackc/pgx", "github.com/ClickHouse", "github.com/fleetedge/fleetedge/cloud"} {
		if strings.Contains(deps, banned) {
			t.Errorf("the gateway binary links %s", banned)
		}
	}
}

func TestRunPrintConfigAndHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	env := map[string]string{"FLEETEDGE_GATEWAY_CITY": "envcity"}
	if err := run([]string{"-print-config", "-gateway-id", "gw-7"}, func(k string) string { return env[k] }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var cfg gateway.Config
	if err := json.Unmarshal(out.Bytes(), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.City != "envcity" || cfg.GatewayID != "gw-7" || cfg.MQTT.TCPAddr != ":1883" {
		t.Fatalf("printed config %+v", cfg)
	}
	if err := run([]string{"-city", "Bad City"}, func(string) string { return "" }, &out, &errOut); !errors.Is(err, gateway.ErrConfig) {
		t.Fatalf("bad city: %v", err)
	}
}

// child is a gateway process.
type child struct {
	cmd  *exec.Cmd
	mqtt string
	http string
	done chan error
	logs *bytes.Buffer
	mu   *sync.Mutex
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gateway")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startChild(t *testing.T, bin string, args ...string) *child {
	t.Helper()
	args = append([]string{"-mqtt-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0", "-log-format", "json", "-city", "testcity"}, args...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			c.mu.Lock()
			c.logs.Write(line)
			c.logs.WriteByte('\n')
			c.mu.Unlock()
			var rec struct {
				Msg  string `json:"msg"`
				MQTT string `json:"mqtt_tcp"`
				HTTP string `json:"http"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "gateway ready" {
				ready <- [2]string{rec.MQTT, rec.HTTP}
			}
		}
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // the test failed half-way; the process must not outlive it
		}
	})
	select {
	case a := <-ready:
		c.mqtt, c.http = a[0], a[1]
	case err := <-c.done:
		t.Fatalf("gateway exited before ready: %v\n%s", err, c.output())
	case <-time.After(20 * time.Second):
		t.Fatalf("gateway not ready\n%s", c.output())
	}
	return c
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String()
}

func (c *child) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("gateway did not exit\n%s", c.output())
		return nil
	}
}

func writeVehicles(t *testing.T, path string, ids []string) map[string]string {
	t.Helper()
	doc := link.VehiclesDoc{V: link.Version, City: "testcity", Version: 1, Updated: time.Now().UTC()}
	secrets := map[string]string{}
	for _, id := range ids {
		s, h, err := devicecred.Generate()
		if err != nil {
			t.Fatal(err)
		}
		secrets[id] = s
		doc.Vehicles = append(doc.Vehicles, link.VehicleConfig{ID: id, CredentialHash: h, NormalLimitKmh: 25})
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

func dial(t *testing.T, addr, id, secret string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetUsername(id).SetPassword(secret).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
		SetProtocolVersion(4).SetWriteTimeout(5 * time.Second).SetMaxResumePubInFlight(64)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	return c
}

// TestKill9 streams QoS 1 reports from several scooters into the gateway
// binary, SIGKILLs it mid-stream, restarts it on the same data directory and
// checks that every report that got a PUBACK is in the outbox exactly once
// (and that nothing is stored twice).
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	vehicles := filepath.Join(dir, "vehicles.json")
	ids := []string{"K1", "K2", "K3", "K4", "K5"}
	secrets := writeVehicles(t, vehicles, ids)
	gw := startChild(t, bin, "-data-dir", data, "-vehicles", vehicles)

	const window = 32 // QoS 1 publishes in flight per scooter
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		sent  = map[string]bool{}
		wg    sync.WaitGroup
	)
	for ci, id := range ids {
		c := dial(t, gw.mqtt, id, secrets[id])
		wg.Add(1)
		go func() {
			defer wg.Done()
			type inflight struct {
				tok     paho.Token
				payload string
			}
			var pending []inflight
			settle := func(p inflight) bool {
				if !p.tok.WaitTimeout(10*time.Second) || p.tok.Error() != nil {
					return false
				}
				mu.Lock()
				acked[p.payload] = true
				mu.Unlock()
				return true
			}
			for n := 0; ; n++ {
				// Unique payloads: the GPS time differs in every report.
				p := fmt.Sprintf(`{"a":19,"i":"%s","g":"4123.%04d,210.1234,0,0","t":%d}`, id, n%10000, 1_700_000_000+ci*10_000_000+n)
				mu.Lock()
				sent[p] = true
				mu.Unlock()
				pending = append(pending, inflight{c.Publish("bike", 1, false, p), p})
				if len(pending) >= window {
					ok := settle(pending[0])
					pending = pending[1:]
					if !ok {
						break
					}
				}
			}
			for _, p := range pending {
				settle(p)
			}
			c.Disconnect(0)
		}()
	}
	// Kill once a good number of reports were acknowledged, mid-stream.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 3000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d reports acknowledged in 20 s\n%s", n, gw.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := gw.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := gw.wait(t); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("gateway exit after SIGKILL: %v", err)
	}
	wg.Wait()
	mu.Lock()
	nAcked, nSent := len(acked), len(sent)
	mu.Unlock()
	t.Logf("sent %d, acknowledged %d before SIGKILL", nSent, nAcked)

	// Restart on the same data (no vehicles file: the stored list is used), take
	// one more report, then stop gracefully.
	gw2 := startChild(t, bin, "-data-dir", data)
	c := dial(t, gw2.mqtt, "K1", secrets["K1"])
	last := `{"a":27,"i":"K1","b":50,"c":1}`
	if tok := c.Publish("bike", 1, false, last); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish after restart: %v", tok.Error())
	}
	c.Disconnect(100)
	if err := gw2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := gw2.wait(t); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, gw2.output())
	}

	ob, err := outbox.Open(filepath.Join(data, gateway.DBFile), outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	seen := map[string]int{}
	var after uint64
	for {
		recs, err := ob.Read(after, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			after = r.Seq
			if r.Kind != broker.KindReport {
				continue
			}
			topic, p, err := broker.DecodeReport(r.Payload)
			if err != nil || topic != "bike" {
				t.Fatalf("record %d: topic %q err %v", r.Seq, topic, err)
			}
			seen[string(p)]++
		}
	}
	missing, dup := 0, 0
	for p := range acked {
		if seen[p] != 1 {
			missing++
			if missing < 5 {
				t.Errorf("acknowledged report stored %d times: %s", seen[p], p)
			}
		}
	}
	for p, n := range seen {
		if n > 1 {
			dup++
			if dup < 5 {
				t.Errorf("report stored %d times: %s", n, p)
			}
		}
		if !sent[p] && p != last {
			t.Errorf("stored a report nobody sent: %s", p)
		}
	}
	if seen[last] != 1 {
		t.Errorf("report after restart stored %d times", seen[last])
	}
	if missing > 0 || dup > 0 {
		t.Fatalf("%d acknowledged reports missing, %d duplicated (of %d acknowledged, %d stored)", missing, dup, nAcked, len(seen))
	}
	t.Logf("outbox holds %d reports; all %d acknowledged ones exactly once", len(seen), nAcked)
}

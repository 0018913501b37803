package fleetops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/chstore"
	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/cloud/internal/eventstore"
	"github.com/fleetedge/fleetedge/cloud/internal/ingest"
	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/cloud/internal/natsbus"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/chtest"
)

// The end-to-end test runs the real chain: the admin API and this package on a fresh
// PostgreSQL database, an embedded NATS with the cloud's ingest (ClickHouse, vehicle_events,
// live state, this package's event hook) and downlink, the real gateway binary
// (edge/cmd/gateway) and scooter-sim processes built from the workspace.

var bins struct {
	once         sync.Once
	dir, root    string
	gateway, sim string
	err          error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		_ = os.RemoveAll(bins.dir) // best effort: a temp dir
	}
	os.Exit(code)
}

func buildBinaries(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the gateway and scooter-sim binaries")
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "env", "GOWORK").Output()
	work := strings.TrimSpace(string(out))
	if err != nil || work == "" || work == "off" {
		t.Skip("needs the workspace (go.work) to build the gateway")
	}
	bins.once.Do(func() {
		bins.root = filepath.Dir(work)
		if bins.dir, bins.err = os.MkdirTemp("", "fleetops-bin-"); bins.err != nil {
			return
		}
		cmd := exec.Command(gobin, "build", "-o", bins.dir+string(filepath.Separator), "./edge/cmd/gateway", "./tools/cmd/scooter-sim")
		cmd.Dir = bins.root
		if out, err := cmd.CombinedOutput(); err != nil {
			bins.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		bins.gateway, bins.sim = filepath.Join(bins.dir, "gateway"), filepath.Join(bins.dir, "scooter-sim")
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
}

// proc is a child process whose output is kept for failure reports.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 4<<20 {
		l.b.Reset()
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(l.b.String(), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait() // the exit status is reported by the failure log
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // our own child's process group
		<-p.done
		if t.Failed() {
			t.Logf("----- %s: last lines -----\n%s", name, p.out.tail(60))
		}
	})
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", d, what, desc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type stack struct {
	*testEnv
	vehicles []string // running scooters
	offline  string   // provisioned and registered, never connected
	faulty   string   // runs in a scooter-sim that fails every firmware package (68 s=1)
	city     link.CityID
}

func newStack(t *testing.T, scooters int) *stack {
	t.Helper()
	buildBinaries(t)
	bus, err := natsbus.Open(t.Context(), natsbus.Config{
		ConnectTimeout: 10 * time.Second,
		Embedded:       natsbus.EmbeddedConfig{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()},
		Stream:         natsbus.DefaultStreamConfig(),
	}, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bus.Close(); err != nil {
			t.Error(err)
		}
	})
	dsn, _ := chtest.New(t)
	ch, err := chstore.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ch.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := ch.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	dl, err := downlink.New(bus.Conn(), bus.JetStream(), downlink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	live := livestate.New()
	e := newTestEnv(t, Config{Live: live, ClickHouse: func() *chstore.Store { return ch },
		Commands: func() CommandSender { return dl },
		Firmware: func() FirmwareSender { return NATSFirmware{Conn: bus.Conn()} },
		Tick:     200 * time.Millisecond, Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	in, err := ingest.New(ingest.Config{FlushInterval: 100 * time.Millisecond,
		OnEvents: func(ctx context.Context, city link.CityID, gw link.GatewayID, events []link.Event) error {
			if err := eventstore.Insert(ctx, e.DB.Pool, city, gw, events); err != nil {
				return err
			}
			return e.svc.HandleEvents(ctx, city, gw, events)
		}}, bus.JetStream(), ch, live, discard())
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the servers' cleanups, so it runs before them: the ingest and the
	// service stop while NATS, ClickHouse and PostgreSQL are still up.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		if err := in.Run(ctx); err != nil {
			t.Errorf("ingest: %v", err)
		}
	})
	wg.Go(func() { e.svc.Run(ctx) })

	// Scooters: provision scooters+2; the first extra one never connects, the second one fails
	// every firmware package.
	dir := t.TempDir()
	const city = "barcelona"
	if out, err := exec.Command(bins.sim, "provision", "--n", strconv.Itoa(scooters+2), "--out", dir, "--city", city,
		"--prefix", "FOT").CombinedOutput(); err != nil {
		t.Fatalf("provision: %v\n%s", err, out)
	}
	var creds struct {
		Vehicles []struct{ ID string } `json:"vehicles"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "sim-credentials.json"))
	if err != nil || json.Unmarshal(b, &creds) != nil || len(creds.Vehicles) != scooters+2 {
		t.Fatalf("credentials: %v %s", err, b)
	}
	s := &stack{testEnv: e, city: city}
	var all []string
	for _, v := range creds.Vehicles {
		all = append(all, v.ID)
	}
	s.vehicles, s.offline, s.faulty = all[:scooters], all[scooters], all[scooters+1]
	e.seedCity(city, all...)

	gwConfig := filepath.Join(dir, "gateway.json")
	if err := os.WriteFile(gwConfig, []byte(`{"cloud": {"cadence": {"position": "0s", "speed": "0s", "signal": "0s", "battery": "0s", "status": "0s"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	mqtt, gwHTTP := freePort(t), freePort(t)
	startProc(t, "gateway", bins.gateway, "--config", gwConfig, "--city", city, "--gateway-id", "fleetops-gw",
		"--data-dir", filepath.Join(dir, "gw"), "--mqtt-addr", fmt.Sprintf("127.0.0.1:%d", mqtt),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", gwHTTP), "--vehicles", filepath.Join(dir, "vehicles.json"),
		"--cloud-nats-url", bus.ClientURL())
	waitFor(t, "gateway ready", 60*time.Second, func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", gwHTTP))
		if err != nil {
			return false, err.Error()
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	startProc(t, "scooter-sim", bins.sim, "run", "--broker", fmt.Sprintf("127.0.0.1:%d", mqtt),
		"--creds", filepath.Join(dir, "sim-credentials.json"), "--n", strconv.Itoa(scooters),
		"--city", filepath.Join(bins.root, "deploy/demo/barcelona/streets.json"), "--zones", "",
		"--gps-interval", "1s", "--heartbeat-interval", "5s", "--gps-noise", "0", "--status-every", "0",
		"--vibration-per-hour", "0", "--old-firmware", "0", "--reconnect-delay", "500ms")
	startProc(t, "scooter-sim-faulty", bins.sim, "run", "--broker", fmt.Sprintf("127.0.0.1:%d", mqtt),
		"--creds", filepath.Join(dir, "sim-credentials.json"), "--id-offset", strconv.Itoa(scooters+1), "--n", "1",
		"--city", filepath.Join(bins.root, "deploy/demo/barcelona/streets.json"), "--zones", "",
		"--gps-interval", "1s", "--heartbeat-interval", "5s", "--gps-noise", "0", "--status-every", "0",
		"--vibration-per-hour", "0", "--old-firmware", "0", "--reconnect-delay", "500ms", "--seed", "2",
		"--fault-firmware", "1")
	// Every scooter has a position in the live state (so the gateway's uplink and our ingest
	// work), and the gateway serves commands.
	waitFor(t, "every scooter on the live map", 60*time.Second, func() (bool, string) {
		m, err := s.svc.LiveMap(t.Context(), city, LiveFilter{})
		if err != nil {
			return false, err.Error()
		}
		n := 0
		for _, v := range m.Vehicles {
			if v.HasPosition {
				n++
			}
		}
		return n == scooters+1, fmt.Sprintf("%d of %d with a position", n, scooters+1)
	})
	return s
}

// testWriter logs through the test (warnings of the service under test).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestEndToEnd(t *testing.T) {
	s := newStack(t, 6)
	cmdTok, cmdAdmin := s.TokenWith(admin.PermVehiclesCommand, admin.PermVehiclesRead)
	fwTok, _ := s.TokenWith(admin.PermFirmwareManage)
	v0 := s.vehicles[0]

	send := func(vehicle string, body map[string]any) adminapitest.Response {
		t.Helper()
		return s.Do("POST", adminapi.Prefix+"/fleet/vehicles/"+vehicle+"/commands", cmdTok, body)
	}

	t.Run("command round trip", func(t *testing.T) {
		tests := []struct {
			body      map[string]any
			replyCode int
			replyKey  string
		}{
			{map[string]any{"code": 107}, 108, "status"},
			{map[string]any{"code": 13, "fields": map[string]any{"k": 2018}}, 14, "nonce"},
			{map[string]any{"code": 21}, 22, "firmware"},
			{map[string]any{"code": 15}, 16, "speed_limit"},
			{map[string]any{"code": 39, "fields": map[string]any{"v": 40}}, 40, "status"},
			{map[string]any{"code": 105}, 106, "status"}, // motor unlock: the scooter may ride again
		}
		for _, tt := range tests {
			r := send(v0, tt.body)
			var res VehicleCommandResult
			if r.Status != 200 {
				t.Fatalf("%v: %d %s", tt.body, r.Status, r.Body)
			}
			r.JSON(t, &res)
			if res.Outcome != "acked" || res.ReplyCode != tt.replyCode || res.Reply == nil || res.City != string(s.city) {
				t.Errorf("%v: %+v", tt.body, res)
			}
			if _, ok := res.Reply[tt.replyKey]; !ok {
				t.Errorf("%v: reply %v has no %q", tt.body, res.Reply, tt.replyKey)
			}
		}
		if r := send(v0, map[string]any{"code": 13, "fields": map[string]any{"k": 1999}}); r.Status != 422 {
			t.Errorf("invalid speed limit: %d %s", r.Status, r.Body)
		}
		// The offline scooter: the gateway waits, the scooter never answers: 504 vehicle_timeout.
		r := send(s.offline, map[string]any{"code": 21, "timeout_ms": 1500})
		if r.Status != 504 || r.Code() != CodeVehicleTimeout {
			t.Errorf("offline scooter: %d %s", r.Status, r.Body)
		}
		entries := s.Audit(audit.Filter{Action: "vehicle.command", AdminID: cmdAdmin, Limit: 100})
		outcomes := map[string]int{}
		for _, a := range entries {
			var d struct{ Outcome string }
			if err := json.Unmarshal(a.Details, &d); err != nil {
				t.Fatal(err)
			}
			outcomes[a.TargetID+":"+d.Outcome]++
		}
		if outcomes[v0+":acked"] != len(tests) || outcomes[s.offline+":timeout"]+outcomes[s.offline+":expired"] != 1 || len(entries) != len(tests)+1 {
			t.Errorf("audited outcomes %v (%d entries)", outcomes, len(entries))
		}
	})

	t.Run("vehicle detail and route", func(t *testing.T) {
		// Power on: the simulated rider rides off, so the route has several points.
		if r := send(v0, map[string]any{"code": 1}); r.Status != 200 || !strings.Contains(string(r.Body), `"outcome":"acked"`) {
			t.Fatalf("power on: %d %s", r.Status, r.Body)
		}
		from := time.Now().UTC().Add(-time.Minute)
		var d FleetVehicleDetail
		waitFor(t, "telemetry and command events in the detail", 30*time.Second, func() (bool, string) {
			r := s.Do("GET", adminapi.Prefix+"/fleet/vehicles/"+v0+"?telemetry_limit=5", cmdTok, nil)
			if r.Status != 200 {
				return false, string(r.Body)
			}
			d = FleetVehicleDetail{}
			r.JSON(t, &d)
			cmds := 0
			for _, e := range d.Events {
				if e.Kind == string(link.EventCommand) {
					cmds++
				}
			}
			return len(d.Telemetry) == 5 && cmds >= 6 && d.Live.Powered,
				fmt.Sprintf("%d telemetry, %d command events, powered %v", len(d.Telemetry), cmds, d.Live.Powered)
		})
		if d.City != string(s.city) || !d.Registered || d.Live.Connectivity != ConnOnline || !d.Telemetry[0].Time.After(d.Telemetry[4].Time) {
			t.Errorf("detail: city %s registered %v live %+v telemetry[0] %v telemetry[4] %v", d.City, d.Registered, d.Live,
				d.Telemetry[0].Time, d.Telemetry[4].Time)
		}
		var rt RouteBody
		waitFor(t, "a route of several fixes", 30*time.Second, func() (bool, string) {
			q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {time.Now().UTC().Add(time.Second).Format(time.RFC3339)}}
			r := s.Do("GET", adminapi.Prefix+"/fleet/vehicles/"+v0+"/route?"+q.Encode(), cmdTok, nil)
			if r.Status != 200 {
				return false, string(r.Body)
			}
			rt = RouteBody{}
			r.JSON(t, &rt)
			return rt.Points >= 3, fmt.Sprintf("%d points", rt.Points)
		})
		g := rt.Route.Geometry
		if rt.Route.Type != "Feature" || g.Type != "LineString" || len(g.Coordinates) != rt.Points || len(rt.Route.Properties.Times) != rt.Points {
			t.Fatalf("route %+v", rt)
		}
		for i := 1; i < rt.Points; i++ {
			if !rt.Route.Properties.Times[i].After(rt.Route.Properties.Times[i-1]) || g.Coordinates[i] == g.Coordinates[i-1] {
				t.Errorf("route point %d not after %d: %v %v", i, i-1, rt.Route.Properties.Times[i-1:i+1], g.Coordinates[i-1:i+1])
			}
			if lon, lat := g.Coordinates[i][0], g.Coordinates[i][1]; lat < 41.3 || lat > 41.5 || lon < 2.0 || lon > 2.3 {
				t.Errorf("route point %d outside Barcelona: %v", i, g.Coordinates[i])
			}
		}
		if r := s.Do("GET", adminapi.Prefix+"/fleet/vehicles/"+v0+"/route?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", cmdTok, nil); r.Status != 422 {
			t.Errorf("inverted window: %d %s", r.Status, r.Body)
		}
	})

	t.Run("firmware job", func(t *testing.T) {
		// Two parked scooters upgrade; v0 is powered on (riding): its module refuses (66 s=1);
		// the faulty scooter fails every package: after more than 5 failures its module reboots,
		// the upgrade starts over once (max_restarts 1), fails again, and the job gives up.
		ok1, ok2 := s.vehicles[1], s.vehicles[2]
		image := bytes.Repeat([]byte("fleetedge-fw-2.4"), 200) // 3200 bytes: 4 packages
		r := s.Do("POST", adminapi.Prefix+"/fleet/cities/barcelona/firmware-jobs", fwTok, map[string]any{"version": "FW2.4.0",
			"image": image, "vehicles": []string{ok1, v0, ok2, s.faulty}, "concurrency": 2, "max_restarts": 1})
		if r.Status != http.StatusAccepted {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		var job FirmwareJob
		r.JSON(t, &job)
		waitFor(t, "the firmware job done", 90*time.Second, func() (bool, string) {
			r := s.Do("GET", adminapi.Prefix+"/fleet/firmware-jobs/"+job.ID, fwTok, nil)
			job = FirmwareJob{}
			r.JSON(t, &job)
			return job.State == "done", fmt.Sprintf("%s %+v", job.State, job.Vehicles)
		})
		t.Logf("firmware job %s: %v in %v", job.ID, job.Counts, job.FinishedAt.Sub(job.CreatedAt).Round(time.Millisecond))
		states := map[string]FirmwareJobVehicle{}
		for _, v := range job.Vehicles {
			states[v.Vehicle] = v
		}
		for _, v := range []string{ok1, ok2} {
			if st := states[v]; st.State != "succeeded" || st.Sent != 4 || st.Total != 4 || st.Error != "" {
				t.Errorf("%s: %+v", v, st)
			}
			var fw *string
			if err := s.DB.Pool.QueryRow(t.Context(), `SELECT firmware_version FROM vehicles WHERE number = $1`, v).Scan(&fw); err != nil || fw == nil || *fw != "FW2.4.0" {
				t.Errorf("%s registry firmware %v %v", v, fw, err)
			}
		}
		if st := states[v0]; st.State != "failed" || st.Error == "" || st.Failures != 0 {
			t.Errorf("powered scooter: %+v", st)
		}
		if st := states[s.faulty]; st.State != "failed" || st.Sent != 0 || st.Failures <= 5 || st.Error == "" {
			t.Errorf("faulty scooter: %+v", st)
		}
		// The scooter itself reports the new version.
		r = send(ok1, map[string]any{"code": 21})
		var res VehicleCommandResult
		r.JSON(t, &res)
		if f, _ := res.Reply["firmware"].(string); f == "" || f == "FW2.3.1" {
			t.Errorf("firmware after the upgrade: %v", res.Reply)
		}
		if job.Counts["succeeded"] != 2 || job.Counts["failed"] != 2 || job.Done != 4 {
			t.Errorf("job counts %v", job.Counts)
		}
		if fin := s.Audit(audit.Filter{Action: "firmware_job.finish", TargetID: job.ID}); len(fin) != 1 {
			t.Errorf("finish audit %+v", fin)
		}
	})
	t.Run("bulk lock of a zone", func(t *testing.T) {
		// v0 ends its ride: once its position settles, every scooter is parked.
		if r := send(v0, map[string]any{"code": 3}); r.Status != 200 || !strings.Contains(string(r.Body), `"outcome":"acked"`) {
			t.Fatalf("power off: %d %s", r.Status, r.Body)
		}
		var last FleetLiveVehicle
		waitFor(t, "v0 parked", 30*time.Second, func() (bool, string) {
			m, err := s.svc.LiveMap(t.Context(), s.city, LiveFilter{})
			if err != nil {
				return false, err.Error()
			}
			prev := last
			for _, v := range m.Vehicles {
				if v.Number == v0 {
					last = v
				}
			}
			settled := !last.Powered && last.SpeedKmh == 0 && last.Lat == prev.Lat && last.Lon == prev.Lon &&
				last.PositionAt.After(prev.PositionAt)
			return settled, fmt.Sprintf("%+v", last)
		})
		// A zone around the scooters west of the widest longitude gap.
		m, err := s.svc.LiveMap(t.Context(), s.city, LiveFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var parked []FleetLiveVehicle
		for _, v := range m.Vehicles {
			if v.HasPosition {
				parked = append(parked, v)
			}
		}
		sort.Slice(parked, func(i, j int) bool { return parked[i].Lon < parked[j].Lon })
		split := 1 // the widest longitude gap, with at least 2 scooters west of it
		for i := 2; i < len(parked)-1; i++ {
			if parked[i].Lon-parked[i-1].Lon > parked[split].Lon-parked[split-1].Lon || split < 2 {
				split = i
			}
		}
		west := (parked[split-1].Lon + parked[split].Lon) / 2
		var want []string
		for _, v := range parked[:split] {
			want = append(want, v.Number)
		}
		slices.Sort(want)
		s.publishZone(t, "ops-west", 2.0, 41.2, west, 41.6)
		// A zone that is not in the document.
		r := s.Do("POST", adminapi.Prefix+"/fleet/cities/barcelona/command-jobs", cmdTok, map[string]any{"code": 107,
			"selector": map[string]any{"zone_id": "nope"}})
		if r.Status != 422 || r.Code() != CodeNoZone {
			t.Errorf("unknown zone: %d %s", r.Status, r.Body)
		}
		r = s.Do("POST", adminapi.Prefix+"/fleet/cities/barcelona/command-jobs", cmdTok, map[string]any{"code": 107,
			"concurrency": 2, "selector": map[string]any{"zone_id": "ops-west"}})
		if r.Status != http.StatusAccepted {
			t.Fatalf("create job: %d %s", r.Status, r.Body)
		}
		var job CommandJob
		r.JSON(t, &job)
		waitFor(t, "the bulk job done", 60*time.Second, func() (bool, string) {
			r := s.Do("GET", adminapi.Prefix+"/fleet/command-jobs/"+job.ID, cmdTok, nil)
			job = CommandJob{}
			r.JSON(t, &job)
			return job.State == "done", fmt.Sprintf("%s %v", job.State, job.Counts)
		})
		var got []string
		for _, v := range job.Vehicles {
			got = append(got, v.Vehicle)
			if v.State != "acked" || v.ReplyCode != 108 || !v.HasStatus || v.Status != 0 {
				t.Errorf("vehicle %+v", v)
			}
		}
		if !slices.Equal(got, want) || job.Total != len(want) || job.Done != len(want) || job.Counts["acked"] != len(want) || job.FinishedAt.IsZero() {
			t.Errorf("job vehicles %v, want %v (the scooters west of %.5f); job %+v", got, want, west, job)
		}
		t.Logf("zone west of %.5f: %d of %d scooters locked (%v), job done in %v", west, len(got), len(parked), got,
			job.FinishedAt.Sub(job.CreatedAt).Round(time.Millisecond))
		create := s.Audit(audit.Filter{Action: "command_job.create", TargetID: job.ID})
		finish := s.Audit(audit.Filter{Action: "command_job.finish", TargetID: job.ID})
		if len(create) != 1 || len(finish) != 1 || !strings.Contains(string(finish[0].Details), `"acked"`) {
			t.Errorf("job audit: create %+v finish %+v", create, finish)
		}
		// By battery filter with nobody matching: 422, no job.
		if r := s.Do("POST", adminapi.Prefix+"/fleet/cities/barcelona/command-jobs", cmdTok, map[string]any{"code": 107,
			"selector": map[string]any{"battery_below": 1, "connectivity": "lost"}}); r.Status != 422 {
			t.Errorf("empty selection: %d %s", r.Status, r.Body)
		}
	})
}

// publishZone stores a zones document with one rectangular zone as the city's current one.
func (s *stack) publishZone(t *testing.T, id string, minLon, minLat, maxLon, maxLat float64) {
	t.Helper()
	ring := [][2]float64{{minLon, minLat}, {maxLon, minLat}, {maxLon, maxLat}, {minLon, maxLat}, {minLon, minLat}}
	doc := map[string]any{"last_updated": time.Now().UTC().Format(time.RFC3339), "ttl": 60, "version": "3.0",
		"data": map[string]any{"geofencing_zones": map[string]any{"type": "FeatureCollection", "features": []any{
			map[string]any{"type": "Feature", "id": id,
				"properties": map[string]any{"rules": []any{map[string]any{"ride_start_allowed": true, "ride_end_allowed": true,
					"ride_through_allowed": true}}},
				"geometry": map[string]any{"type": "MultiPolygon", "coordinates": [][][][2]float64{{ring}}}},
		}}, "global_rules": []any{}}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Pool.Exec(t.Context(), `INSERT INTO zones (city_id, version, document, published_at)
 SELECT id, 1 + coalesce((SELECT max(version) FROM zones z WHERE z.city_id = c.id), 0), $2, now() FROM cities c WHERE code = $1`,
		string(s.city), b); err != nil {
		t.Fatal(err)
	}
}

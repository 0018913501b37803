package downlink

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/gatewayauth"
	"github.com/fleetedge/fleetedge/cloud/internal/natsbus"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// fixture is the gateway side as a separate process: edge/internal/cloudlink
// /linkfixture (broker, command manager, configstore, cloud link and a scooter
// that acks power on), built from the workspace.
type fixture struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	seen []string
	done chan struct{}
	// stderr holds the fixture's warnings (NATS async errors such as
	// permission violations).
	stderr lockedBuffer
}

func buildFixture(t *testing.T) string { return buildFixtureB(t) }

var fixtureBuild struct {
	once sync.Once
	bin  string
	out  []byte
	err  error
}

// buildFixtureB builds the fixture once per test binary (removed in TestMain).
func buildFixtureB(t testing.TB) string {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "env", "GOWORK").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "off" {
		t.Skip("needs the workspace (go.work) to build the edge fixture")
	}
	fb := &fixtureBuild
	fb.once.Do(func() {
		dir, err := os.MkdirTemp("", "linkfixture-")
		if err != nil {
			fb.err = err
			return
		}
		fb.bin = filepath.Join(dir, "linkfixture")
		fb.out, fb.err = exec.Command(gobin, "build", "-o", fb.bin,
			"github.com/fleetedge/fleetedge/edge/internal/cloudlink/linkfixture").CombinedOutput()
	})
	if fb.err != nil {
		t.Fatalf("build fixture: %v\n%s", fb.err, fb.out)
	}
	return fb.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureBuild.bin != "" {
		_ = os.RemoveAll(filepath.Dir(fixtureBuild.bin))
	}
	os.Exit(code)
}

// lockedBuffer collects a process's stderr while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startFixture(t *testing.T, bin, natsURL, dataDir string, args ...string) *fixture {
	t.Helper()
	args = append([]string{"-nats", natsURL, "-city", string(city), "-data", dataDir}, args...)
	f := &fixture{t: t, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f.cmd.Stderr = &f.stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.mu.Lock()
			f.seen = append(f.seen, sc.Text())
			f.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		f.kill()
		if t.Failed() {
			t.Logf("fixture stderr:\n%s", f.stderr.String())
		}
	})
	f.wait("ready")
	return f
}

func (f *fixture) has(line string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.seen {
		if l == line {
			return true
		}
	}
	return false
}

func (f *fixture) wait(line string) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f.has(line) {
		select {
		case <-f.done:
			f.t.Fatalf("fixture exited before %q; saw %q", line, f.lines())
		default:
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("fixture did not print %q; saw %q", line, f.lines())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// kill is SIGKILL: nothing graceful.
func (f *fixture) kill() {
	if f.cmd.ProcessState == nil {
		_ = f.cmd.Process.Kill()
		_ = f.cmd.Wait()
	}
}

// TestCrossTier runs the real gateway side in its own process: SendCommand
// gets the scooter's ack through NATS, the link, the command manager and
// mochi; PublishConfig reaches the gateway's store and apply path; a change
// published while the gateway is down (SIGKILLed) is applied when it comes
// back, after it started from its stored copy.
func TestCrossTier(t *testing.T) {
	bin := buildFixture(t)
	b := openBus(t)
	d := newDownlink(t, b, Config{})
	ctx := t.Context()
	data := t.TempDir()

	if _, err := d.PublishConfig(ctx, city, zones(1)); err != nil {
		t.Fatal(err)
	}
	f := startFixture(t, bin, b.ClientURL(), data)
	f.wait("applied zones 1 2")

	send := func(req link.CommandRequest) link.CommandResult {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, err := d.SendCommand(ctx, city, req)
			if errors.Is(err, ErrNoGateway) && time.Now().Before(deadline) { // subscription still on its way
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", req.ID, err)
			}
			return res
		}
	}
	res := send(link.CommandRequest{V: link.Version, ID: "unlock-1", Vehicle: "861123456789012", Code: 1, Source: "ride", TimeoutMs: 5000})
	if res.Outcome != link.OutcomeAcked || res.ReplyCode != 2 || res.Status == nil || *res.Status != 0 || len(res.Reply) == 0 {
		t.Errorf("unlock: %+v reply %s", res, res.Reply)
	}
	res = send(link.CommandRequest{V: link.Version, ID: "lock-1", Vehicle: "861123456789012", Code: 3, Source: "ride", TimeoutMs: 5000})
	if res.Outcome != link.OutcomeFailed || res.Status == nil || *res.Status != 1 {
		t.Errorf("lock: %+v", res)
	}

	f.kill()
	if _, err := d.SendCommand(ctx, city, link.CommandRequest{V: 1, ID: "x", Vehicle: "861123456789012", Code: 1}); !errors.Is(err, ErrNoGateway) {
		t.Errorf("gateway down: %v, want ErrNoGateway", err)
	}
	next := zones(2)
	next.Geofence = geofence(3)
	if _, err := d.PublishConfig(ctx, city, next); err != nil {
		t.Fatal(err)
	}
	f2 := startFixture(t, bin, b.ClientURL(), data)
	if !f2.has("stored zones 1") {
		t.Errorf("restart did not start from the stored zones: %q", f2.lines())
	}
	f2.wait("applied zones 2 3")
	t.Logf("fixture output after restart: %s", strings.Join(f2.lines(), " | "))
}

// BenchmarkSendCommand: the admin/ride path from the cloud — SendCommand over
// loopback NATS to the gateway fixture in its own process, its command manager
// and mochi broker, a paho scooter acking at once — p50/p99 per round trip.
func BenchmarkSendCommand(b *testing.B) {
	bin := buildFixtureB(b)
	bus := openBusB(b)
	d, err := New(bus.Conn(), bus.JetStream(), Config{})
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-nats", bus.ClientURL(), "-city", string(city), "-data", b.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		b.Fatal("fixture not ready")
	}
	ctx := b.Context()
	req := func(i int) link.CommandRequest {
		return link.CommandRequest{V: link.Version, ID: "bench-" + strconv.Itoa(i), Vehicle: "861123456789012", Code: 1,
			Source: "bench", TimeoutMs: 5000}
	}
	for i := 0; ; i++ { // until the gateway's subscription is there
		if _, err := d.SendCommand(ctx, city, req(-i-1)); err == nil {
			break
		} else if !errors.Is(err, ErrNoGateway) || i > 2000 {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	lats := make([]time.Duration, 0, 4096)
	i := 0
	for b.Loop() {
		start := time.Now()
		res, err := d.SendCommand(ctx, city, req(i))
		if err != nil || res.Outcome != link.OutcomeAcked {
			b.Fatalf("%+v %v", res, err)
		}
		lats = append(lats, time.Since(start))
		i++
	}
	slices.Sort(lats)
	q := func(p float64) float64 { return float64(lats[int(p*float64(len(lats)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}

// TestCrossTierGatewayPermissions runs the gateway side under the cloud's
// gateway permissions (gatewayauth roster: its nkey, its own inbox namespace,
// its city's command subject and read-only access to its city's bucket):
// commands and configuration work; nothing the link does is refused.
func TestCrossTierGatewayPermissions(t *testing.T) {
	bin := buildFixture(t)
	dir := t.TempDir()
	seed, pub, err := gatewayauth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	seedFile, rosterFile := filepath.Join(dir, "gw.seed"), filepath.Join(dir, "roster.json")
	ro, _ := json.Marshal(gatewayauth.Roster{Gateways: []gatewayauth.Gateway{{ID: "gw-1", City: city, NKey: pub}}})
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rosterFile, ro, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := natsbus.Config{
		ConnectTimeout: 10 * time.Second,
		Embedded:       natsbus.EmbeddedConfig{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()},
		Stream:         natsbus.DefaultStreamConfig(),
	}
	cfg.Embedded.Auth.RosterFile = rosterFile
	b, err := natsbus.Open(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	d := newDownlink(t, b, Config{})
	ctx := t.Context()
	if _, err := d.PublishConfig(ctx, city, zones(1)); err != nil {
		t.Fatal(err)
	}
	f := startFixture(t, bin, b.ClientURL(), t.TempDir(), "-nkey-seed", seedFile, "-inbox-prefix", gatewayauth.InboxPrefix("gw-1"))
	f.wait("applied zones 1 2")
	var res link.CommandResult
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err = d.SendCommand(ctx, city, link.CommandRequest{V: 1, ID: "u1", Vehicle: "861123456789012", Code: 1, TimeoutMs: 5000})
		if !errors.Is(err, ErrNoGateway) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || res.Outcome != link.OutcomeAcked {
		t.Fatalf("unlock under gateway permissions: %+v %v", res, err)
	}
	next := zones(2)
	next.Geofence = geofence(3)
	if _, err := d.PublishConfig(ctx, city, next); err != nil {
		t.Fatal(err)
	}
	f.wait("applied zones 2 3")
	if e := f.stderr.String(); strings.Contains(e, "Permissions Violation") {
		t.Errorf("the gateway side was refused something:\n%s", e)
	}
}

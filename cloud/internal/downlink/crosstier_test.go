package downlink

import (
	"bufio"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

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
}

func buildFixture(t *testing.T) string {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "env", "GOWORK").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "off" {
		t.Skip("needs the workspace (go.work) to build the edge fixture")
	}
	bin := filepath.Join(t.TempDir(), "linkfixture")
	build := exec.Command(gobin, "build", "-o", bin, "github.com/fleetedge/fleetedge/edge/internal/cloudlink/linkfixture")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build fixture: %v\n%s", err, out)
	}
	return bin
}

func startFixture(t *testing.T, bin, natsURL, dataDir string) *fixture {
	t.Helper()
	f := &fixture{t: t, cmd: exec.Command(bin, "-nats", natsURL, "-city", string(city), "-data", dataDir), done: make(chan struct{})}
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	f.cmd.Stderr = &stderr
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
			t.Logf("fixture stderr:\n%s", stderr.String())
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

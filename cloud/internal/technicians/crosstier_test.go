package technicians_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/technicians"
)

// gatewayProc is the real gateway binary (edge/cmd/gateway) in its own process: the cloud
// cannot import the edge module's internal packages, so the cross-tier test runs it.
type gatewayProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs []map[string]any
	raw  strings.Builder
	done chan struct{}
	http string
}

func buildGateway(t *testing.T) string {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "env", "GOWORK").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "off" {
		t.Skip("needs the workspace (go.work) to build the gateway")
	}
	bin := filepath.Join(t.TempDir(), "gateway")
	if out, err := exec.Command(gobin, "build", "-o", bin, "github.com/fleetedge/fleetedge/edge/cmd/gateway").CombinedOutput(); err != nil {
		t.Fatalf("build gateway: %v\n%s", err, out)
	}
	return bin
}

func startGateway(t *testing.T, bin, natsURL, dataDir string) *gatewayProc {
	t.Helper()
	g := &gatewayProc{t: t, done: make(chan struct{}), cmd: exec.Command(bin, "--city", city, "--gateway-id", "gw-bcn-1",
		"--data-dir", dataDir, "--mqtt-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-format", "json",
		"--cloud-nats-url", natsURL)}
	stderr, err := g.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(g.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			g.mu.Lock()
			g.raw.WriteString(sc.Text() + "\n")
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				g.logs = append(g.logs, rec)
			}
			g.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			g.mu.Lock()
			t.Logf("gateway log:\n%s", g.raw.String())
			g.mu.Unlock()
		}
	})
	ready := g.waitLog("gateway ready", nil)
	g.http, _ = ready["http"].(string)
	return g
}

// waitLog waits for a log record with msg (and, when match is set, accepted by it).
func (g *gatewayProc) waitLog(msg string, match func(map[string]any) bool) map[string]any {
	g.t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		g.mu.Lock()
		for _, r := range g.logs {
			if r["msg"] == msg && (match == nil || match(r)) {
				g.mu.Unlock()
				return r
			}
		}
		g.mu.Unlock()
		select {
		case <-g.done:
			g.t.Fatalf("gateway exited before logging %q", msg)
		default:
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("gateway did not log %q in time", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (g *gatewayProc) stop() {
	if g.cmd.ProcessState != nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(20 * time.Second):
		_ = g.cmd.Process.Kill()
	}
	_ = g.cmd.Wait()
}

// technician is a field UI client (its own cookie jar: one session).
type technician struct {
	t  *testing.T
	g  *gatewayProc
	hc *http.Client
}

func (g *gatewayProc) client(t *testing.T) *technician {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &technician{t: t, g: g, hc: &http.Client{Jar: jar, Timeout: 15 * time.Second}}
}

func (c *technician) login(user, pw string) int {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	res, err := c.hc.Post("http://"+c.g.http+"/ui/api/login", "application/json", strings.NewReader(string(b)))
	if err != nil {
		c.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func (c *technician) session() int {
	c.t.Helper()
	res, err := c.hc.Get("http://" + c.g.http + "/ui/api/session")
	if err != nil {
		c.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func versionIs(v int64) func(map[string]any) bool {
	return func(r map[string]any) bool {
		f, ok := r["version"].(float64)
		return ok && int64(f) == v
	}
}

// TestCrossTier: a technician created in the admin API logs in to the field UI of a
// running gateway (its own process, on the cloud's embedded NATS); with the cloud stopped,
// and after the gateway restarted while it is down, the login still works from the
// gateway's stored copy; when the cloud is back and the technician is disabled, their
// session ends and the login is refused.
func TestCrossTier(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-tier test skipped in -short mode")
	}
	bin := buildGateway(t)
	e := newEnv(t, technicians.Config{RetryInterval: 200 * time.Millisecond})
	ctxRun, cancel := context.WithCancel(t.Context())
	ran := make(chan struct{})
	go func() { defer close(ran); e.svc.Run(ctxRun) }()
	t.Cleanup(func() { cancel(); <-ran }) // before the database goes (cleanups run last-in first-out)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(e.bus.ClientURL(), "nats://"))
	if err != nil {
		t.Fatal(err)
	}
	natsURL := e.bus.ClientURL()
	data := filepath.Join(t.TempDir(), "gw")
	gw := startGateway(t, bin, natsURL, data)

	base := adminapi.Prefix + "/cities/" + city + "/technicians"
	const pw = "fixing scooters daily"
	if r := e.Do("POST", base, e.token, map[string]string{"username": "ana", "display_name": "Ana", "password": pw}); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	v1 := e.list(t).Document.Version
	gw.waitLog("field UI accounts applied from the cloud", versionIs(v1))
	first := gw.client(t)
	if code := first.login("ana", pw); code != http.StatusOK {
		t.Fatalf("login after create: %d", code)
	}
	if code := gw.client(t).login("ana", "not the password"); code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", code)
	}

	// The cloud's NATS stops: the gateway keeps letting ana in.
	if err := e.bus.Close(); err != nil {
		t.Fatal(err)
	}
	e.dlOn.Store(false)
	gw.waitLog("nats disconnected", nil)
	if code := gw.client(t).login("ana", pw); code != http.StatusOK {
		t.Fatalf("login with the cloud down: %d", code)
	}
	if code := first.session(); code != http.StatusOK {
		t.Fatalf("session with the cloud down: %d", code)
	}
	// Restart while the cloud is unreachable: the stored document is in force.
	gw.stop()
	gw = startGateway(t, bin, natsURL, data)
	kept := gw.client(t)
	if code := kept.login("ana", pw); code != http.StatusOK {
		t.Fatalf("login after a restart without the cloud: %d", code)
	}

	// The cloud comes back (same port and store); ana is disabled.
	p, _ := strconv.Atoi(port)
	bus := openBus(t, p, e.busDir)
	t.Cleanup(func() { _ = bus.Close() })
	e.setBus(t, bus)
	e.dlOn.Store(true)
	if r := e.Do("POST", base+"/ana/disable", e.token, nil); r.Status != 200 {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	v2 := e.list(t).Document.Version
	if v2 <= v1 {
		t.Fatalf("version %d after %d", v2, v1)
	}
	gw.waitLog("field UI accounts applied from the cloud", versionIs(v2))
	if code := kept.session(); code != http.StatusUnauthorized {
		t.Fatalf("disabled technician's session: %d, want 401", code)
	}
	if code := gw.client(t).login("ana", pw); code != http.StatusUnauthorized {
		t.Fatalf("disabled technician's login: %d, want 401", code)
	}
	if st := e.list(t).Document; st.Pending {
		t.Fatalf("document still pending: %+v", st)
	}
}

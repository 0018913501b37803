package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	longRun      = flag.Bool("long", false, "fault tests with the brief's durations: NATS down 2 min, ClickHouse down 1 min")
	natsDownFlag = flag.Duration("nats-down", 0, "how long the cloud (and its NATS) stays down in TestNATSDown (default 20 s, 2 min with -long)")
	chDownFlag   = flag.Duration("ch-down", 0, "how long ClickHouse stays down in TestClickHouseDown (default 15 s, 1 min with -long)")
)

func natsDown() time.Duration {
	switch {
	case *natsDownFlag > 0:
		return *natsDownFlag
	case *longRun:
		return 2 * time.Minute
	}
	return 20 * time.Second
}

func chDown() time.Duration {
	switch {
	case *chDownFlag > 0:
		return *chDownFlag
	case *longRun:
		return time.Minute
	}
	return 15 * time.Second
}

// binaries are the three programs under test, built once per test process into
// a directory TestMain removes.
type binaries struct {
	root                string // workspace root (go.work)
	cloud, gateway, sim string
}

var (
	buildDir  string
	buildOnce sync.Once
	buildBins binaries
	buildErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if buildDir != "" {
		if err := os.RemoveAll(buildDir); err != nil {
			fmt.Fprintln(os.Stderr, "faulttest: remove build dir:", err)
		}
	}
	os.Exit(code)
}

// build compiles cloud, gateway and scooter-sim (once per test process).
func build(t *testing.T) binaries {
	t.Helper()
	if testing.Short() {
		t.Skip("fault tests build and run the real binaries")
	}
	buildOnce.Do(func() {
		root, err := workspaceRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "faulttest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
			"./cloud/cmd/cloud", "./edge/cmd/gateway", "./tools/cmd/scooter-sim")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		buildBins = binaries{root: root, cloud: filepath.Join(dir, "cloud"),
			gateway: filepath.Join(dir, "gateway"), sim: filepath.Join(dir, "scooter-sim")}
	})
	if buildErr != nil {
		t.Fatalf("faulttest: %v", buildErr)
	}
	return buildBins
}

func workspaceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("faulttest: no go.work above the working directory")
		}
		dir = parent
	}
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago. Processes
// that restart must come back on the same port (the gateway's NATS URL, the
// scooters' broker), so ":0" in the child is not enough. Ports come from
// 30000-32767: below Linux's ephemeral range (32768-60999), where the
// thousands of scooter connections would otherwise take a port between the
// check and the child's listen, and above the ports `make test` gives its
// servers. A port is handed out once per test process.
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := portLow + rand.IntN(portHigh-portLow+1)
		if portsUsed[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		portsUsed[port] = true
		return port
	}
	t.Fatalf("no free port in %d-%d", portLow, portHigh)
	return 0
}

const portLow, portHigh = 30000, 32767

var (
	portsMu   sync.Mutex
	portsUsed = map[int]bool{}
)

// logBuf keeps a child's output (the last few MiB) for failure reports.
type logBuf struct {
	mu sync.Mutex
	b  []byte
}

const logKeep = 4 << 20

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > 2*logKeep {
		l.b = append([]byte(nil), l.b[len(l.b)-logKeep:]...)
	}
	return len(p), nil
}

// tail returns the last n lines.
func (l *logBuf) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := bytes.TrimRight(l.b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

// grep returns the lines containing s.
func (l *logBuf) grep(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(l.b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// proc is a child process in its own process group.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *logBuf
	done chan struct{}
	err  error // set before done closes
}

// startProc starts bin; t.Cleanup kills its process group and, when the test
// failed, logs the tail of its output.
func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &logBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("----- %s (%s): last lines -----\n%s", name, p.state(), p.out.tail(80))
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) state() string {
	if !p.exited() {
		return "running"
	}
	if p.err == nil {
		return "exited 0"
	}
	return p.err.Error()
}

func (p *proc) signal(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	// The whole group: nothing the child started may outlive it.
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	return nil
}

// kill SIGKILLs the process group and waits for the exit.
func (p *proc) kill() {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// sigkill is the fault: SIGKILL, then wait for the process to be gone.
func (p *proc) sigkill(t *testing.T) {
	t.Helper()
	if p.exited() {
		t.Fatalf("%s exited before the SIGKILL: %s", p.name, p.state())
	}
	if err := p.signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10 s after SIGKILL", p.name)
	}
}

// stop asks for a graceful stop (SIGTERM) and requires a clean exit.
func (p *proc) stop(t *testing.T, within time.Duration) {
	t.Helper()
	if err := p.signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s: graceful stop: %v", p.name, p.err)
		}
	case <-time.After(within):
		t.Errorf("%s did not stop within %v of SIGTERM; killing it", p.name, within)
		p.kill()
	}
}

// waitFor polls cond every 100 ms until it holds or timeout passes; it fails the
// test with cond's last description, or at once when one of alive exited.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string), alive ...*proc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		for _, p := range alive {
			if p != nil && p.exited() {
				t.Fatalf("%s: %s exited (%s) while waiting; last state: %s", what, p.name, p.state(), desc)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done after %v; last state: %s", what, timeout, desc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var httpc = &http.Client{Timeout: 3 * time.Second}

func httpGet(url string) (int, []byte, error) {
	resp, err := httpc.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func getJSON(url string, v any) error {
	code, b, err := httpGet(url)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, code, b)
	}
	return json.Unmarshal(b, v)
}

// metrics is a Prometheus text scrape: series ("name" or `name{labels}`) → value.
type metrics map[string]float64

func scrape(url string) (metrics, error) {
	code, b, err := httpGet(url)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", url, code)
	}
	m := metrics{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m, nil
}

// sum adds the series of name over all label values.
func (m metrics) sum(name string) float64 {
	var v float64
	for k, x := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			v += x
		}
	}
	return v
}

// ctx returns a context bounded by d and the test.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

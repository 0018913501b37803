package cloudsvc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/cloud/internal/fare"
)

// Helpers of the whole-system ride test (ride_e2e_test.go): building and running the gateway
// and scooter-sim binaries, and HTTP calls against the running cloud.

// rideE2EBinaries builds edge/cmd/gateway and tools/cmd/scooter-sim into a test temp dir and
// returns the workspace root and the two binaries. It skips without the workspace (go.work).
func rideE2EBinaries(t *testing.T) (root, gateway, sim string) {
	t.Helper()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "env", "GOWORK").Output()
	work := strings.TrimSpace(string(out))
	if err != nil || work == "" || work == "off" {
		t.Skip("needs the workspace (go.work) to build the gateway and scooter-sim")
	}
	root = filepath.Dir(work)
	dir := t.TempDir()
	cmd := exec.Command(gobin, "build", "-o", dir+string(filepath.Separator), "./edge/cmd/gateway", "./tools/cmd/scooter-sim")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build gateway and scooter-sim: %v\n%s", err, out)
	}
	return root, filepath.Join(dir, "gateway"), filepath.Join(dir, "scooter-sim")
}

// e2eBuffer keeps a child's (or the cloud's) output for failure reports.
type e2eBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *e2eBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 8<<20 {
		l.b.Reset()
	}
	return l.b.Write(p)
}

func (l *e2eBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// tail returns the last n lines.
func (l *e2eBuffer) tail(n int) string {
	lines := strings.Split(l.String(), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// line returns the first line containing every part, or "".
func (l *e2eBuffer) line(parts ...string) string {
	for _, ln := range strings.Split(l.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(ln, p)
		}
		if all {
			return ln
		}
	}
	return ""
}

// e2eProc is a child process of the test, in its own process group.
type e2eProc struct {
	name string
	cmd  *exec.Cmd
	out  *e2eBuffer
	done chan struct{}
}

func startE2EProc(t *testing.T, name, bin string, args ...string) *e2eProc {
	t.Helper()
	p := &e2eProc{name: name, cmd: exec.Command(bin, args...), out: &e2eBuffer{}, done: make(chan struct{})}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait() // how it ended shows in the output kept for failures
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT) // our own child's group: graceful first
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("----- %s: last lines -----\n%s", name, p.out.tail(80))
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *e2eProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// eventually polls cond every 100 ms until it holds; after d the test fails with what cond
// last said.
func eventually(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v (%s)", what, d, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// e2eAPI calls the running cloud's HTTP APIs.
type e2eAPI struct {
	t      *testing.T
	base   string
	client *http.Client
}

type e2eResp struct {
	Status int
	Body   []byte
}

// JSON decodes the body into v (the test fails if it cannot).
func (r e2eResp) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %d %s: %v", r.Status, r.Body, err)
	}
}

// do sends a request with an optional bearer token, JSON body (a string is sent as is) and
// extra header pairs.
func (a *e2eAPI) do(method, path, token string, body any, header ...string) e2eResp {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return e2eResp{resp.StatusCode, b}
}

// must is do that fails the test unless the answer has status want.
func (a *e2eAPI) must(want int, method, path, token string, body any, header ...string) e2eResp {
	a.t.Helper()
	r := a.do(method, path, token, body, header...)
	if r.Status != want {
		a.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// getJSON GETs an absolute URL (the gateway's local API) into v; false when not 200.
func getJSON(c *http.Client, url string, v any) (bool, string) {
	resp, err := c.Get(url)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Sprintf("%v: %s", err, b)
	}
	return true, string(b)
}

// rectZone is a GBFS geofencing feature: the rectangle [minLon,maxLon]×[minLat,maxLat] with
// one rule for every vehicle type (maxKph < 0: no speed limit) and a fleetedge kind.
func rectZone(id, name, kind string, minLon, minLat, maxLon, maxLat float64, maxKph int) map[string]any {
	rule := map[string]any{"ride_start_allowed": true, "ride_end_allowed": true, "ride_through_allowed": true}
	if maxKph >= 0 {
		rule["maximum_speed_kph"] = maxKph
	}
	ring := [][2]float64{{minLon, minLat}, {maxLon, minLat}, {maxLon, maxLat}, {minLon, maxLat}, {minLon, minLat}}
	return map[string]any{"type": "Feature", "id": id,
		"geometry": map[string]any{"type": "MultiPolygon", "coordinates": [][][][2]float64{{ring}}},
		"properties": map[string]any{"name": []any{map[string]any{"text": name, "language": "en"}},
			"rules": []any{rule}, "fleetedge": map[string]any{"kind": kind}}}
}

// zonesDoc is a GBFS v3 geofencing_zones.json with features in precedence order; outside
// every zone nothing is allowed.
func zonesDoc(t *testing.T, features ...map[string]any) []byte {
	t.Helper()
	doc := map[string]any{"last_updated": time.Now().UTC().Format(time.RFC3339), "ttl": 60, "version": "3.0",
		"data": map[string]any{
			"geofencing_zones": map[string]any{"type": "FeatureCollection", "features": features},
			"global_rules": []any{map[string]any{"ride_start_allowed": false, "ride_end_allowed": false,
				"ride_through_allowed": false, "maximum_speed_kph": 0}},
		}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// execOut runs a command to completion and returns its combined output.
func execOut(bin string, args ...string) ([]byte, error) {
	return exec.Command(bin, args...).CombinedOutput()
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func orbPoint(f fare.Fix) orb.Point { return orb.Point{f.Lon, f.Lat} }

// lineCoords returns the coordinates of a GeoJSON LineString (however its JSON is laid out).
func lineCoords(t *testing.T, raw []byte) [][]float64 {
	t.Helper()
	var g struct {
		Type        string
		Coordinates [][]float64
	}
	if err := json.Unmarshal(raw, &g); err != nil || g.Type != "LineString" {
		t.Fatalf("not a LineString (%v): %s", err, raw)
	}
	return g.Coordinates
}

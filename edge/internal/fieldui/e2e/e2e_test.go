package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/edge/internal/fieldui/fieldtest"
	// The gateway binary is built from source at run time; importing its
	// package ties go test's result cache to the gateway's code.
	_ "github.com/fleetedge/fleetedge/edge/internal/gateway"
)

const chromium = "/usr/bin/chromium"

const setupHint = "run edge/internal/fieldui/e2e/setup.sh (apt-get install chromium, npm install playwright-core) or `make deps`"

// TestBrowser logs in through headless chromium against a real gateway
// process with simulated scooters: vehicles on the map, a vehicle page
// opened from the map, a beep and a query acknowledged by the scooter, a
// fallen scooter in the attention list (live, no reload), search, logout;
// the map draws tiles from the configured tile URL (a local tile server).
// Screenshots: .data/test-artifacts/fieldui-e2e/ at the repository root.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s missing: %s", chromium, setupHint)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node missing: %s", setupHint)
	}
	if _, err := os.Stat("node_modules/playwright-core/package.json"); err != nil {
		t.Fatalf("playwright-core missing: %s", setupHint)
	}
	// Read (not only run by node) so that go test's cache sees script changes.
	if _, err := os.ReadFile("fieldui.e2e.mjs"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "gateway")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append(args, "github.com/fleetedge/fleetedge/edge/cmd/gateway")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build gateway: %v\n%s", err, out)
	}
	files, err := fieldtest.Provision(dir, 8)
	if err != nil {
		t.Fatal(err)
	}

	tiles := tileServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	gw := exec.CommandContext(ctx, bin, "--city", fieldtest.City, "--data-dir", filepath.Join(dir, "data"),
		"--mqtt-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-format", "json",
		"--vehicles", files.Vehicles, "--zones", files.Zones, "--ui-accounts", files.Accounts, "--ui-command-timeout", "5s",
		"--ui-tile-url", tiles.url+"/tiles/{z}/{x}/{y}.png", "--ui-tile-attribution", "test tiles")
	gw.Cancel = func() error { return gw.Process.Signal(syscall.SIGTERM) }
	gw.WaitDelay = 20 * time.Second
	stderr, err := gw.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan map[string]any, 1)
	var logMu sync.Mutex
	var gwLog strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			gwLog.WriteString(line + "\n")
			logMu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "gateway ready" {
				ready <- rec
			}
		}
	}()
	stopGateway := func() {
		if gw.Process != nil {
			_ = gw.Process.Signal(syscall.SIGTERM)
		}
		if err := gw.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("gateway exit: %v", err)
		}
	}
	var addrs map[string]any
	select {
	case addrs = <-ready:
	case <-time.After(30 * time.Second):
		stopGateway()
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("gateway not ready:\n%s", gwLog.String())
	}
	defer func() {
		stopGateway()
		if t.Failed() {
			logMu.Lock()
			t.Logf("gateway log:\n%s", gwLog.String())
			logMu.Unlock()
		}
	}()
	httpAddr, _ := addrs["http"].(string)
	mqttAddr, _ := addrs["mqtt_tcp"].(string)
	scooters, err := fieldtest.Connect(mqttAddr, files.Creds, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer scooters.Close()

	artifacts := artifactsDir(t)
	t.Logf("screenshots: %s", artifacts)
	ids := make([]string, len(files.Creds))
	for i, c := range files.Creds {
		ids[i] = c.ID
	}
	js := exec.CommandContext(ctx, node, "fieldui.e2e.mjs")
	js.Env = append(os.Environ(), "BASE_URL=http://"+httpAddr, "UI_USER="+fieldtest.User, "UI_PASSWORD="+fieldtest.Password,
		"VEHICLES="+strings.Join(ids, ","), "ARTIFACTS="+artifacts, "CHROMIUM="+chromium)
	out, err := js.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var jsErr strings.Builder
	js.Stderr = &jsErr
	if err := js.Start(); err != nil {
		t.Fatal(err)
	}
	var beeped string
	ok := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		t.Log("browser: " + line)
		switch {
		case strings.HasPrefix(line, "FALL "):
			s, found := scooters.Get(strings.TrimPrefix(line, "FALL "))
			if !found {
				t.Errorf("browser asked to fell unknown %q", line)
				continue
			}
			s.SetFallen(true)
		case strings.HasPrefix(line, "BEEPED "):
			beeped = strings.TrimPrefix(line, "BEEPED ")
		case line == "E2E OK":
			ok = true
		}
	}
	if _, err := io.Copy(io.Discard, out); err != nil {
		t.Log(err)
	}
	if err := js.Wait(); err != nil || !ok {
		t.Fatalf("browser test failed (%v):\n%s", err, jsErr.String())
	}
	s, found := scooters.Get(beeped)
	if !found || !slices.Contains(s.Commands(), 28) {
		t.Fatalf("scooter %q did not receive the beep (28)", beeped)
	}
	if n := tiles.requests.Load(); n == 0 {
		t.Fatal("the map fetched no tile from the configured tile URL")
	} else {
		t.Logf("map tiles fetched: %d", n)
	}
}

type tiles struct {
	url      string
	requests atomic.Int64
}

// tileServer serves a plain 256×256 PNG for every /tiles/z/x/y.png and
// counts the requests: the configured tile URL is used by the map.
func tileServer(t *testing.T) *tiles {
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for i := range img.Pix {
		img.Pix[i] = 0xe8
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	ts := &tiles{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/tiles/") || !strings.HasSuffix(r.URL.Path, ".png") {
			http.NotFound(w, r)
			return
		}
		ts.requests.Add(1)
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(buf.Bytes())
	}))
	t.Cleanup(srv.Close)
	ts.url = srv.URL
	return ts
}

// artifactsDir is .data/test-artifacts/fieldui-e2e under the repository root
// (the directory holding go.work), emptied first; a temporary directory when
// there is no workspace.
func artifactsDir(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			dir := filepath.Join(d, ".data", "test-artifacts", "fieldui-e2e")
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			return dir
		}
	}
	return filepath.Join(t.TempDir(), fmt.Sprintf("fieldui-e2e-%d", time.Now().Unix()))
}

package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name    string
		cfg     LogConfig
		wantErr bool
		check   func(t *testing.T, out string)
	}{
		{name: "json info drops debug", cfg: LogConfig{Level: "info", Format: LogJSON}, check: func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 1 {
				t.Fatalf("want 1 line (debug dropped), got %q", out)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
				t.Fatalf("not JSON: %v: %q", err, lines[0])
			}
			if m["msg"] != "hello" || m["k"] != "v" {
				t.Fatalf("unexpected record %v", m)
			}
		}},
		{name: "text debug keeps debug", cfg: LogConfig{Level: "DEBUG", Format: LogText}, check: func(t *testing.T, out string) {
			if !strings.Contains(out, "level=DEBUG msg=dbg") || !strings.Contains(out, "msg=hello k=v") {
				t.Fatalf("unexpected text output %q", out)
			}
		}},
		{name: "bad level", cfg: LogConfig{Level: "loud", Format: LogText}, wantErr: true},
		{name: "bad format", cfg: LogConfig{Level: "info", Format: "xml"}, wantErr: true},
		{name: "empty format", cfg: LogConfig{Level: "info"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := NewLogger(&buf, tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrLogConfig) {
					t.Fatalf("want ErrLogConfig, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("dbg")
			log.Info("hello", "k", "v")
			tt.check(t, buf.String())
		})
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	// Two processes' worth of registries in one test process must not collide.
	a, b := NewRegistry(), NewRegistry()
	for _, reg := range []*prometheus.Registry{a, b} {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "fleetedge_test_total", Help: "t"})
		if err := reg.Register(c); err != nil {
			t.Fatalf("register in fresh registry: %v", err)
		}
	}
	mfs, err := a.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var haveGo bool
	for _, mf := range mfs {
		haveGo = haveGo || mf.GetName() == "go_goroutines"
	}
	if !haveGo {
		t.Fatal("go collector missing from registry")
	}
}

func TestHealthReadiness(t *testing.T) {
	h := NewHealth(200 * time.Millisecond)
	if err := h.Add("db", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := h.Add("db", func(context.Context) error { return nil }); !errors.Is(err, ErrDuplicateCheck) {
		t.Fatalf("duplicate name: want ErrDuplicateCheck, got %v", err)
	}
	failing := errors.New("connection refused")
	var fail atomic.Bool
	if err := h.Add("bus", func(context.Context) error {
		if fail.Load() {
			return failing
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	rep := h.Check(ctx)
	if rep.Ready || rep.Status != "starting" {
		t.Fatalf("before SetReady: want not ready/starting, got %+v", rep)
	}
	h.SetReady()
	if rep = h.Check(ctx); !rep.Ready || rep.Status != "ready" || len(rep.Checks) != 2 {
		t.Fatalf("after SetReady: got %+v", rep)
	}
	fail.Store(true)
	rep = h.Check(ctx)
	if rep.Ready || rep.Status != "not ready" {
		t.Fatalf("failing check: got %+v", rep)
	}
	if rep.Checks[0].Name != "db" || !rep.Checks[0].OK || rep.Checks[1].Name != "bus" || rep.Checks[1].Error != failing.Error() {
		t.Fatalf("check results in registration order with errors: got %+v", rep.Checks)
	}
	fail.Store(false)
	h.SetNotReady("stopping")
	if rep = h.Check(ctx); rep.Ready || rep.Status != "stopping" {
		t.Fatalf("after SetNotReady: got %+v", rep)
	}
}

func TestHealthCheckTimeout(t *testing.T) {
	h := NewHealth(50 * time.Millisecond)
	release := make(chan struct{})
	defer close(release)
	// One check honours the context, one ignores it: both must be reported as failed, promptly.
	if err := h.Add("ctx", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }); err != nil {
		t.Fatal(err)
	}
	if err := h.Add("stuck", func(context.Context) error { <-release; return nil }); err != nil {
		t.Fatal(err)
	}
	h.SetReady()
	start := time.Now()
	rep := h.Check(t.Context())
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Check took %v with a stuck check", d)
	}
	if rep.Ready || rep.Checks[0].OK || rep.Checks[1].OK {
		t.Fatalf("want both checks failed, got %+v", rep)
	}
	if !strings.Contains(rep.Checks[1].Error, ErrCheckTimeout.Error()) {
		t.Fatalf("stuck check error = %q, want timeout", rep.Checks[1].Error)
	}
}

func TestServerEndpoints(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "fleetedge_obs_test_total", Help: "t"})
	reg.MustRegister(c)
	c.Add(3)
	h := NewHealth(time.Second)
	var dbDown atomic.Bool
	dbDown.Store(true)
	if err := h.Add("postgres", func(context.Context) error {
		if dbDown.Load() {
			return errors.New("db down")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := Listen("127.0.0.1:0", NewMux(reg, h, log), log)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	base := "http://" + srv.Addr()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}

	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	h.SetReady()
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with failing check = %d", code)
	}
	var rep Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("/readyz body not JSON: %v %q", err, body)
	}
	if len(rep.Checks) != 1 || rep.Checks[0].Name != "postgres" || rep.Checks[0].Error != "db down" {
		t.Fatalf("/readyz body = %+v", rep)
	}
	dbDown.Store(false)
	if code, body = get("/readyz"); code != 200 || !strings.Contains(body, `"status":"ready"`) {
		t.Fatalf("/readyz ready = %d %q", code, body)
	}
	code, body = get("/metrics")
	if code != 200 || !strings.Contains(body, "fleetedge_obs_test_total 3") || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics = %d, missing metrics:\n%s", code, body)
	}
	if code, _ = get("/nope"); code != 404 {
		t.Fatalf("unknown path = %d", code)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Shutdown = %v, want nil", err)
	}
}

func TestServerShutdownWithoutServe(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := Listen("127.0.0.1:0", http.NotFoundHandler(), log)
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The port is released: binding it again works.
	again, err := Listen(addr, http.NotFoundHandler(), log)
	if err != nil {
		t.Fatalf("listener not released: %v", err)
	}
	if err := again.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestListenBadAddr(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := Listen("127.0.0.1:99999", http.NotFoundHandler(), log); err == nil {
		t.Fatal("want error for bad port")
	}
}

package cloudsvc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/natsbus"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/chtest"
	"github.com/fleetedge/fleetedge/shared/obs"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testConfig points a config at this test's own databases, :0 ports and a temp data dir.
func testConfig(t *testing.T, role Role) Config {
	t.Helper()
	db := pgstoretest.New(t)
	chDSN, _ := chtest.New(t)
	cfg := Default()
	cfg.Role = role
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.NATS.Port = 0
	cfg.Postgres.DSN = Secret(db.AppDSN)
	cfg.Postgres.MigratorDSN = Secret(db.MigratorDSN)
	cfg.ClickHouse.DSN = Secret(chDSN)
	cfg.StartupTimeout = Duration(30 * time.Second)
	key, err := fieldcrypt.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg.FieldCrypt = FieldCryptConfig{Keys: Key("k1:" + key), CurrentKey: "k1"}
	return cfg
}

// client does not keep connections alive, so no transport goroutines outlive a request.
var client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitReady polls /readyz until it answers 200, and returns the report.
func waitReady(t *testing.T, app *App, runErr <-chan error) obs.Report {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-runErr:
			t.Fatalf("Run returned before ready: %v", err)
		default:
		}
		code, body := get(t, "http://"+app.HTTPAddr()+"/readyz")
		if code == http.StatusOK {
			var rep obs.Report
			if err := json.Unmarshal([]byte(body), &rep); err != nil {
				t.Fatalf("readyz body: %v: %s", err, body)
			}
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 30s: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkNoLeak waits until the goroutine count is back to at most base.
func checkNoLeak(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, baseline %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startApp(t *testing.T, cfg Config) (*App, context.CancelFunc, <-chan error) {
	t.Helper()
	app, err := New(cfg, discardLogger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(ctx) }()
	return app, cancel, runErr
}

func stopApp(t *testing.T, app *App, cancel context.CancelFunc, runErr <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30s after cancel")
	}
	if err := app.Close(); err != nil {
		t.Fatalf("Close after Run: %v", err)
	}
	if _, err := net.DialTimeout("tcp", app.HTTPAddr(), time.Second); err == nil {
		t.Fatal("HTTP listener still open after shutdown")
	}
}

// TestAppAllRoles and TestAppStartupFailure count goroutines, so they stay sequential: the
// parallel tests of this package only run after them.
func TestAppAllRoles(t *testing.T) {
	cfg := testConfig(t, RoleAll)
	cfg.DrainDelay = Duration(time.Second)
	base := runtime.NumGoroutine()
	app, cancel, runErr := startApp(t, cfg)

	if code, _ := get(t, "http://"+app.HTTPAddr()+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
	rep := waitReady(t, app, runErr)
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name)
		if !c.OK {
			t.Errorf("check %s not ok in a ready report: %+v", c.Name, c)
		}
	}
	if strings.Join(names, ",") != "postgres,clickhouse,nats" {
		t.Fatalf("checks = %v", names)
	}
	select {
	case <-app.Started():
	default:
		t.Fatal("Started not closed while ready")
	}

	// A gateway-like client reaches the embedded NATS over TCP and the stream deduplicates.
	url := app.NATSURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":4222") {
		t.Fatalf("NATS URL %q: want a random port", url)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := js.Publish(t.Context(), link.TelemetrySubject("riga"), []byte("b"), jetstream.WithMsgID(link.MsgID("gw1", 1, 5))); err != nil {
			t.Fatal(err)
		}
	}
	s, err := js.Stream(t.Context(), link.StreamUp)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("stream holds %d, want 1", n)
	}
	nc.Close()

	code, body := get(t, "http://"+app.HTTPAddr()+"/metrics")
	if code != 200 || !strings.Contains(body, `fleetedge_cloud_info{role="all"} 1`) ||
		!strings.Contains(body, `fleetedge_nats_stream_messages{stream="FLEET_UP"} 1`) ||
		!strings.Contains(body, "fleetedge_nats_connected 1") ||
		!strings.Contains(body, `fleetedge_http_request_duration_seconds_count{code="200",method="GET",route="GET /readyz"}`) {
		t.Fatalf("/metrics = %d, missing cloud or nats metrics:\n%.2000s", code, body)
	}

	// Shutdown step 1: during drain_delay /readyz says "stopping" while HTTP still serves.
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := get(t, "http://"+app.HTTPAddr()+"/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, `"status":"stopping"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stopping phase: %d %s", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopApp(t, app, cancel, runErr)
	checkNoLeak(t, base)
}

func TestAppRolesSideBySide(t *testing.T) {
	t.Parallel()
	// Two cloud processes in one test process: an api replica and an ingest replica that uses
	// an external NATS (here an embedded server standing in for the cluster). Their registries
	// and listeners must not collide.
	ext, err := natsbus.Open(t.Context(), natsbus.Config{
		ConnectTimeout: 10 * time.Second,
		Embedded:       natsbus.EmbeddedConfig{Host: "127.0.0.1", StoreDir: t.TempDir()},
		Stream:         natsbus.DefaultStreamConfig(),
	}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	extClosed := false
	defer func() {
		if !extClosed {
			if err := ext.Close(); err != nil {
				t.Error(err)
			}
		}
	}()

	apiCfg := testConfig(t, RoleAPI)
	ingCfg := testConfig(t, RoleIngest)
	ingCfg.NATS.URL = Secret(ext.ClientURL())
	ingCfg.HTTP.CheckTimeout = Duration(500 * time.Millisecond)

	api, cancelAPI, apiErr := startApp(t, apiCfg)
	ing, cancelIng, ingErr := startApp(t, ingCfg)

	apiRep := waitReady(t, api, apiErr)
	if len(apiRep.Checks) != 2 {
		t.Fatalf("role api runs no NATS, want postgres+clickhouse checks: %+v", apiRep.Checks)
	}
	if api.NATSURL() != "" {
		t.Fatalf("role api NATS URL = %q", api.NATSURL())
	}
	waitReady(t, ing, ingErr)
	if ing.NATSURL() != ext.ClientURL() {
		t.Fatalf("ingest NATS URL = %q, want the external %q", ing.NATSURL(), ext.ClientURL())
	}
	// An api replica given the external NATS sends commands and configuration (no ingest).
	api2Cfg := testConfig(t, RoleAPI)
	api2Cfg.NATS.URL = Secret(ext.ClientURL())
	api2, cancelAPI2, api2Err := startApp(t, api2Cfg)
	if rep := waitReady(t, api2, api2Err); len(rep.Checks) != 3 || api2.Downlink() == nil {
		t.Fatalf("role api with a NATS URL: checks %+v, downlink %v", rep.Checks, api2.Downlink() != nil)
	}
	if api.Downlink() != nil {
		t.Fatal("role api without a NATS URL has a downlink")
	}
	// It follows the up stream for its live state (nearby vehicles, live map).
	speed := 12.0
	batch, err := json.Marshal(link.TelemetryBatch{Header: link.Header{V: link.Version, Gateway: "riga-gw-1", City: "riga"},
		Records: []link.Telemetry{{Seq: 1, Vehicle: "RG001", Time: time.Now().UTC(), SpeedKmh: &speed}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ext.JetStream().Publish(t.Context(), link.TelemetrySubject("riga"), batch); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if v, ok := api2.Live().Get("riga", "RG001"); ok && v.SpeedKmh == speed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("role api with NATS: live state did not follow the up stream")
		}
	}
	stopApp(t, api2, cancelAPI2, api2Err)

	// The external NATS goes away: the ingest replica turns not ready and says why.
	if err := ext.Close(); err != nil {
		t.Fatal(err)
	}
	extClosed = true
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, "http://"+ing.HTTPAddr()+"/readyz")
		if code == http.StatusServiceUnavailable {
			var rep obs.Report
			if err := json.Unmarshal([]byte(body), &rep); err != nil {
				t.Fatal(err)
			}
			last := rep.Checks[len(rep.Checks)-1]
			if rep.Status != "not ready" || last.Name != "nats" || last.OK || last.Error == "" {
				t.Fatalf("readyz after NATS loss: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still ready 10s after NATS went away: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Both shut down cleanly, the ingest replica although its NATS is gone.
	stopApp(t, api, cancelAPI, apiErr)
	stopApp(t, ing, cancelIng, ingErr)
}

func TestAppStartupFailure(t *testing.T) {
	// ClickHouse unreachable: Run gives up after startup_timeout with an error naming it,
	// releases the listener and the PostgreSQL pool it already opened, and leaks nothing.
	cfg := testConfig(t, RoleAll)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.ClickHouse.DSN = Secret("clickhouse://" + dead + "/x?dial_timeout=200ms")
	cfg.StartupTimeout = Duration(1500 * time.Millisecond)
	base := runtime.NumGoroutine()
	app, cancel, runErr := startApp(t, cfg)
	defer cancel()
	select {
	case err := <-runErr:
		if err == nil || !strings.Contains(err.Error(), "clickhouse open") {
			t.Fatalf("Run = %v, want a clickhouse error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not give up")
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", app.HTTPAddr(), time.Second); err == nil {
		t.Fatal("listener still open")
	}
	checkNoLeak(t, base)
}

func TestAppPermanentErrorFailsFast(t *testing.T) {
	t.Parallel()
	// A superuser DSN is refused by pgstore; retrying cannot fix it, so Run fails at once.
	cfg := testConfig(t, RoleAPI)
	db := pgstoretest.New(t)
	cfg.Postgres.Migrate = false
	cfg.Postgres.DSN = Secret(db.SuperuserDSN)
	cfg.StartupTimeout = Duration(20 * time.Second)
	app, cancel, runErr := startApp(t, cfg)
	defer cancel()
	start := time.Now()
	select {
	case err := <-runErr:
		if err == nil || !errors.Is(err, pgstore.ErrSuperuser) {
			t.Fatalf("Run = %v, want the superuser refusal", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run kept retrying a permanent error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("permanent error took %v", d)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejectsBadConfigAndBusyPort(t *testing.T) {
	t.Parallel()
	bad := Default()
	bad.Role = "web"
	if _, err := New(bad, discardLogger()); !errors.Is(err, ErrConfig) {
		t.Fatalf("New with bad role: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := Default()
	cfg.HTTP.Addr = ln.Addr().String()
	if _, err := New(cfg, discardLogger()); err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("New on a busy port: %v", err)
	}
	// New without Run: Close releases the listener.
	cfg.HTTP.Addr = "127.0.0.1:0"
	app, err := New(cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", app.HTTPAddr(), time.Second); err == nil {
		t.Fatal("listener open after Close without Run")
	}
}

func TestAppStartupInterrupted(t *testing.T) {
	t.Parallel()
	// A stop requested while a dependency is still being waited for is not a failure.
	cfg := testConfig(t, RoleAPI)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.ClickHouse.DSN = Secret("clickhouse://" + dead + "/x?dial_timeout=200ms")
	cfg.StartupTimeout = Duration(time.Minute)
	app, cancel, runErr := startApp(t, cfg)
	// Wait until startup is stuck on ClickHouse: /readyz names it as not started.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := get(t, "http://"+app.HTTPAddr()+"/readyz")
		if strings.Contains(body, `"name":"postgres","ok":true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres never came up: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopApp(t, app, cancel, runErr)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

func TestAppWaitsForExternalNATS(t *testing.T) {
	t.Parallel()
	// The NATS cluster comes up after the ingest replica: startup retries until it answers.
	port := freePort(t)
	cfg := testConfig(t, RoleIngest)
	cfg.NATS.URL = Secret("nats://127.0.0.1:" + strconv.Itoa(port))
	app, cancel, runErr := startApp(t, cfg)

	// Wait until startup reached the NATS step (both databases up) and NATS is still missing.
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-runErr:
			t.Fatalf("Run gave up on a NATS that is not up yet: %v", err)
		default:
		}
		_, body := get(t, "http://"+app.HTTPAddr()+"/readyz")
		if strings.Contains(body, `"name":"clickhouse","ok":true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("databases never came up: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ext, err := natsbus.Open(t.Context(), natsbus.Config{
		ConnectTimeout: 10 * time.Second,
		Embedded:       natsbus.EmbeddedConfig{Host: "127.0.0.1", Port: port, StoreDir: t.TempDir()},
		Stream:         natsbus.DefaultStreamConfig(),
	}, discardLogger())
	if err != nil {
		t.Fatalf("start the late NATS on port %d: %v", port, err)
	}
	waitReady(t, app, runErr)
	stopApp(t, app, cancel, runErr)
	if err := ext.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAppEmbeddedPortInUseFailsFast(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t, RoleIngest)
	cfg.NATS.Port = ln.Addr().(*net.TCPAddr).Port
	cfg.StartupTimeout = Duration(30 * time.Second)
	app, cancel, runErr := startApp(t, cfg)
	defer cancel()
	select {
	case err := <-runErr:
		if !errors.Is(err, natsbus.ErrEmbeddedStart) {
			t.Fatalf("Run = %v, want ErrEmbeddedStart", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a port in use was retried instead of reported")
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
}

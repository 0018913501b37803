package ingest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// The gateway half of the end-to-end runs lives in edge/internal/uplink
// (TestExternalDrain): edge and cloud packages are internal to their modules and
// cannot share a process, so it runs as the uplink's test binary, talking to
// this process's embedded NATS over TCP — the real deployment's shape.
const gatewayPkg = "github.com/fleetedge/fleetedge/edge/internal/uplink"

var (
	helperOnce sync.Once
	helperBin  string
	helperErr  error
)

func gatewayHelper(t testing.TB) string {
	t.Helper()
	helperOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			helperErr = err
			return
		}
		dir, err := os.MkdirTemp("", "fleetedge-e2e-")
		if err != nil {
			helperErr = err
			return
		}
		helperBin = filepath.Join(dir, "uplink.test")
		args := []string{"test", "-c", "-o", helperBin}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command(goBin, append(args, gatewayPkg)...).CombinedOutput()
		if err != nil {
			helperErr = fmt.Errorf("build %s: %v\n%s", gatewayPkg, err, out)
		}
	})
	if helperErr != nil {
		t.Fatalf("gateway helper: %v", helperErr)
	}
	return helperBin
}

// endToEnd fills a gateway outbox with records in a child process, then times
// outbox → uplink → JetStream → ingest → ClickHouse until every row is committed.
func endToEnd(t testing.TB, e *env, in *Ingest, c link.CityID, records int) (elapsed time.Duration, reports, events uint64) {
	t.Helper()
	cmd := exec.Command(gatewayHelper(t), "-test.run=^TestExternalDrain$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "FLEETEDGE_E2E_NATS_URL="+e.bus.ClientURL(),
		"FLEETEDGE_E2E_RECORDS="+strconv.Itoa(records), "FLEETEDGE_E2E_CITY="+string(c))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil { // a failed run; the normal path waits below
			if err := cmd.Process.Kill(); err != nil {
				t.Logf("kill gateway helper: %v", err)
			}
			if err := cmd.Wait(); err != nil {
				t.Logf("gateway helper: %v", err)
			}
		}
	}()
	lines := bufio.NewScanner(stdout)
	var ready bool
	for lines.Scan() {
		if _, err := fmt.Sscanf(lines.Text(), "READY %d %d", &reports, &events); err == nil {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatalf("gateway helper did not get ready: %v", lines.Err())
	}
	before := in.Stats()
	begin := time.Now()
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Minute, "every record in ClickHouse", func() bool {
		s := in.Stats()
		return s.Telemetry-before.Telemetry >= reports && s.Events-before.Events >= events
	})
	elapsed = time.Since(begin)
	var tail []string
	for lines.Scan() {
		tail = append(tail, lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gateway helper: %v\n%s", err, strings.Join(tail, "\n"))
	}
	return elapsed, reports, events
}

// TestEndToEnd: reports and events appended to a gateway's outbox reach
// ClickHouse exactly once.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway uplink as a child process")
	}
	e := newEnv(t)
	in, _ := e.start(t, testConfig(), nil)
	const c link.CityID = "e2ecity"
	_, reports, events := endToEnd(t, e, in, c, 20_000)
	if n := telemetryTotal(t, e.store, c); n != reports {
		t.Errorf("ClickHouse holds %d telemetry records, want %d", n, reports)
	}
	kinds, err := e.store.EventCounts(context.Background(), string(c), window)
	if err != nil {
		t.Fatal(err)
	}
	if len(kinds) != 1 || kinds[0].Kind != "alarm" || kinds[0].Count != events {
		t.Errorf("event counts %v, want %d alarms", kinds, events)
	}
	if v, ok := in.Live().Get(c, "E0042"); !ok || v.PositionAt.IsZero() {
		t.Errorf("live state of E0042: %+v, %v", v, ok)
	}
}

// BenchmarkEndToEnd measures records/s from a gateway outbox to rows committed
// in ClickHouse, everything on this machine (gateway uplink in a child process,
// NATS embedded here). Run with a fixed count, e.g. -benchtime=200000x.
func BenchmarkEndToEnd(b *testing.B) {
	e := newEnv(b)
	in, _ := e.start(b, Config{}, nil)
	gatewayHelper(b)
	b.ResetTimer()
	elapsed, reports, events := endToEnd(b, e, in, "benchcity", b.N)
	b.StopTimer()
	if n := telemetryTotal(b, e.store, "benchcity"); n != reports {
		b.Fatalf("ClickHouse holds %d records, want %d", n, reports)
	}
	b.ReportMetric(float64(reports+events)/elapsed.Seconds(), "records/s")
}

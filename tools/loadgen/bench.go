package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleetedge/fleetedge/tools/citymap"
	"github.com/fleetedge/fleetedge/tools/sim"
)

// ErrBench is wrapped by Run's errors.
var ErrBench = errors.New("loadgen: bench")

// Config is one benchmark run. Zero values take the defaults of the
// edge-bench command's flags.
type Config struct {
	GatewayBin, SimBin string // built binaries
	Dir                string // work dir (credentials, zones, gateway data, logs, results)
	CityDir            string // streets.json and geofencing_zones.json of the base city
	City               string // city id of the gateway and the credentials

	N, Procs    int // scooters, simulator processes
	Zones       int // zones in the benchmark city
	GPS, HB     time.Duration
	ConnectRate int // new connections per second per simulator process
	Hysteresis  float64
	Warmup      time.Duration // after every scooter is connected
	Window      time.Duration // measured period

	Restart []string // "term" and/or "kill": restart phases after the window

	Flood         bool
	FloodConns    int
	FloodWindow   int
	FloodDuration time.Duration

	Perf time.Duration // perf record the gateway this long inside the window (0: no)

	SimArgs, GatewayArgs []string // extra flags for every scooter-sim run / the gateway

	MQTTAddr, HTTPAddr string // gateway listeners (default: free loopback ports)
	Out                io.Writer
}

// Result is everything a run measured.
type Result struct {
	Started    time.Time          `json:"started"`
	Host       string             `json:"host"`
	CPUs       int                `json:"cpus"`
	Scooters   int                `json:"scooters"`
	SimProcs   int                `json:"sim_procs"`
	Zones      int                `json:"zones"`
	GPS        string             `json:"gps_interval"`
	Heartbeat  string             `json:"heartbeat_interval"`
	Hysteresis float64            `json:"hysteresis_metres"`
	LoadBefore string             `json:"load_before"`
	LoadDuring []string           `json:"load_during"`
	FirstAdmit float64            `json:"first_admission_seconds"` // sims started → N connected
	WindowS    float64            `json:"window_seconds"`
	MsgsPerSec float64            `json:"messages_per_second"`
	Durable    float64            `json:"durable_records_per_second"`
	Latency    Quantiles          `json:"fix_to_13"`
	LatencyStr string             `json:"fix_to_13_summary"`
	GwCPU      float64            `json:"gateway_cpu_cores"`
	GwCPUPer1k float64            `json:"gateway_cpu_seconds_per_1000_messages"`
	SimCPU     float64            `json:"simulators_cpu_cores"`
	GwRSSMax   uint64             `json:"gateway_rss_max_bytes"`
	GwFDs      int                `json:"gateway_fds"`
	GwThreads  int                `json:"gateway_threads"`
	Connected  float64            `json:"connected_min_in_window"`
	Deltas     map[string]float64 `json:"window_deltas"`
	Gauges     map[string]float64 `json:"end_gauges"`
	IngestP99  float64            `json:"ingest_latency_p99_seconds"`
	IngestP50  float64            `json:"ingest_latency_p50_seconds"`
	// GwCmdP50/P99: the gateway's own part of fix→13, from receiving a
	// report to writing the command on the vehicle's connection
	// (fleetedge_ingest_report_to_command_seconds; 0 if the gateway lacks it).
	GwCmdP50    float64         `json:"gateway_report_to_command_p50_seconds"`
	GwCmdP90    float64         `json:"gateway_report_to_command_p90_seconds"`
	GwCmdP99    float64         `json:"gateway_report_to_command_p99_seconds"`
	RulesMeanUS float64         `json:"rules_evaluation_mean_microseconds"`
	CommitP50   float64         `json:"outbox_commit_p50_seconds"`
	Restarts    []RestartResult `json:"restarts,omitempty"`
	Flood       *FloodSummary   `json:"flood,omitempty"`
	PerfTop     []string        `json:"perf_top,omitempty"`
}

// RestartResult is one gateway restart under the connected fleet.
type RestartResult struct {
	Signal     string             `json:"signal"`
	StopS      float64            `json:"stop_seconds"`  // signal → process exit
	ReadyS     float64            `json:"ready_seconds"` // start → /readyz
	AdmitS     float64            `json:"admit_seconds"` // start → N connected
	Admitted   float64            `json:"admitted"`
	AuthFailed float64            `json:"auth_failed"`
	Auth       map[string]float64 `json:"auth"` // fleetedge_broker_auth_total by result after admission
	LoadAfter  string             `json:"load_after"`
}

// FloodSummary is the durable ingest ceiling phase.
type FloodSummary struct {
	FloodResult
	GatewayDurable float64 `json:"gateway_durable_per_second"` // outbox appended_total rate
	GatewayMsgs    float64 `json:"gateway_messages_per_second"`
	GwCPU          float64 `json:"gateway_cpu_cores"`
	GwCPUPer1k     float64 `json:"gateway_cpu_seconds_per_1000_messages"`
	CommitP50      float64 `json:"commit_p50_seconds"`
	BatchMean      float64 `json:"batch_mean_requests"`
	Load           string  `json:"load"`
}

type runner struct {
	cfg     Config
	res     *Result
	http    *http.Client
	gw      *exec.Cmd
	gwStart time.Time
	sims    []*exec.Cmd
	files   benchFiles
}

type benchFiles struct {
	creds, vehicles, zones, streets, gwData, gwLog string
}

func (c *Config) defaults() {
	if c.Dir == "" {
		c.Dir = ".data/bench"
	}
	if c.CityDir == "" {
		c.CityDir = "deploy/demo/barcelona"
	}
	if c.City == "" {
		c.City = "barcelona"
	}
	if c.N <= 0 {
		c.N = 15000
	}
	if c.Procs <= 0 {
		c.Procs = 4
	}
	if c.Zones <= 0 {
		c.Zones = 500
	}
	if c.GPS <= 0 {
		c.GPS = 5 * time.Second
	}
	if c.HB <= 0 {
		c.HB = 30 * time.Second
	}
	if c.ConnectRate <= 0 {
		c.ConnectRate = 2000
	}
	if c.Warmup <= 0 {
		c.Warmup = c.HB + 5*time.Second
	}
	if c.Window <= 0 {
		c.Window = 60 * time.Second
	}
	if c.FloodConns <= 0 {
		c.FloodConns = 1000
	}
	if c.FloodWindow <= 0 {
		c.FloodWindow = 32
	}
	if c.FloodDuration <= 0 {
		c.FloodDuration = 20 * time.Second
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
}

// Run performs a whole benchmark and writes results-<time>.{txt,json} into
// cfg.Dir. Every process it started is stopped before it returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	r := &runner{cfg: cfg, http: &http.Client{Timeout: 10 * time.Second}}
	host, _ := os.Hostname()
	r.res = &Result{Started: time.Now(), Host: host, CPUs: numCPU(), Scooters: cfg.N, SimProcs: cfg.Procs, Zones: cfg.Zones,
		GPS: cfg.GPS.String(), Heartbeat: cfg.HB.String(), Hysteresis: cfg.Hysteresis, LoadBefore: LoadAvg()}
	defer r.stopAll()
	if err := r.prepare(); err != nil {
		return nil, err
	}
	err := r.run(ctx)
	r.stopAll()
	if werr := r.write(); werr != nil {
		err = errors.Join(err, werr)
	}
	return r.res, err
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Out, "edge-bench: "+format+"\n", args...)
}

func (r *runner) prepare() error {
	c := &r.cfg
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("%w: %v", ErrBench, err)
	}
	fleetDir := filepath.Join(c.Dir, fmt.Sprintf("fleet-%d", c.N))
	r.files = benchFiles{
		creds: filepath.Join(fleetDir, "sim-credentials.json"), vehicles: filepath.Join(fleetDir, "vehicles.json"),
		zones: filepath.Join(c.Dir, fmt.Sprintf("geofencing_zones_%d.json", c.Zones)), streets: filepath.Join(c.CityDir, "streets.json"),
		gwData: filepath.Join(c.Dir, "gateway"), gwLog: filepath.Join(c.Dir, "gateway.log"),
	}
	// Credentials: kept between runs of the same size (provision keeps existing files).
	r.logf("provisioning %d scooters into %s", c.N, fleetDir)
	if out, err := exec.Command(c.SimBin, "provision", "--n", strconv.Itoa(c.N), "--out", fleetDir, "--city", c.City).CombinedOutput(); err != nil {
		return fmt.Errorf("%w: provision: %v: %s", ErrBench, err, out)
	}
	base, err := os.ReadFile(filepath.Join(c.CityDir, "geofencing_zones.json"))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBench, err)
	}
	streets, err := os.ReadFile(r.files.streets)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBench, err)
	}
	g, err := citymap.Parse(streets)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBench, err)
	}
	zones, err := CityZones(base, g, ZoneOptions{Total: c.Zones, Seed: 1})
	if err != nil {
		return err
	}
	if err := os.WriteFile(r.files.zones, zones, 0o644); err != nil {
		return fmt.Errorf("%w: %v", ErrBench, err)
	}
	r.logf("wrote %s (%d zones)", r.files.zones, c.Zones)
	// A fresh gateway data dir: the outbox starts empty every run.
	if err := os.RemoveAll(r.files.gwData); err != nil {
		return fmt.Errorf("%w: %v", ErrBench, err)
	}
	if c.MQTTAddr == "" {
		if c.MQTTAddr, err = freeAddr(); err != nil {
			return err
		}
	}
	if c.HTTPAddr == "" {
		if c.HTTPAddr, err = freeAddr(); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) metricsURL() string { return "http://" + r.cfg.HTTPAddr + "/metrics" }

func (r *runner) run(ctx context.Context) error {
	c := &r.cfg
	if err := r.startGateway(ctx); err != nil {
		return err
	}
	r.logf("gateway up (mqtt %s, http %s); load %s", c.MQTTAddr, c.HTTPAddr, LoadAvg())
	simStart := time.Now()
	if err := r.startSims(); err != nil {
		return err
	}
	if _, err := r.waitConnected(ctx, float64(c.N), 10*time.Minute); err != nil {
		return err
	}
	r.res.FirstAdmit = time.Since(simStart).Seconds()
	r.logf("%d connected %.1f s after the simulators started; warming up %v (every riding scooter sends a heartbeat)", c.N, r.res.FirstAdmit, c.Warmup)
	if err := sleepCtx(ctx, c.Warmup); err != nil {
		return err
	}
	if err := r.window(ctx); err != nil {
		return err
	}
	for _, sig := range c.Restart {
		rr, err := r.restart(ctx, sig)
		r.res.Restarts = append(r.res.Restarts, rr)
		if err != nil {
			return err
		}
		r.logf("restart (%s): stop %.2f s, ready %.2f s, %d admitted %.2f s after start; load %s",
			sig, rr.StopS, rr.ReadyS, int(rr.Admitted), rr.AdmitS, rr.LoadAfter)
	}
	if c.Flood {
		r.stopSims()
		fs, err := r.flood(ctx)
		r.res.Flood = fs
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) startGateway(ctx context.Context) error {
	c := &r.cfg
	logf, err := os.OpenFile(r.files.gwLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBench, err)
	}
	cmd := exec.Command(c.GatewayBin, "--city", c.City, "--gateway-id", "bench-gw", "--data-dir", r.files.gwData,
		"--mqtt-addr", c.MQTTAddr, "--http-addr", c.HTTPAddr, "--zones", r.files.zones, "--vehicles", r.files.vehicles,
		"--hysteresis-metres", strconv.FormatFloat(c.Hysteresis, 'f', -1, 64))
	cmd.Args = append(cmd.Args, c.GatewayArgs...)
	cmd.Stdout, cmd.Stderr = logf, logf
	r.gwStart = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%w: start gateway: %v", ErrBench, err)
	}
	logf.Close() // the child holds its own copy
	r.gw = cmd
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := r.http.Get("http://" + c.HTTPAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%w: gateway exited at start; see %s", ErrBench, r.files.gwLog)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: gateway not ready after 60 s; see %s", ErrBench, r.files.gwLog)
		}
	}
}

func (r *runner) startSims() error {
	c := &r.cfg
	for i := range c.Procs {
		lat := filepath.Join(c.Dir, fmt.Sprintf("latency-%d.log", i))
		_ = os.Remove(lat)
		logf, err := os.Create(filepath.Join(c.Dir, fmt.Sprintf("sim-%d.log", i)))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBench, err)
		}
		cmd := exec.Command(c.SimBin, "run", "--broker", c.MQTTAddr, "--creds", r.files.creds,
			"--shard", fmt.Sprintf("%d/%d", i, c.Procs), "--city", r.files.streets, "--zones", r.files.zones,
			"--ride-all", "--latency-log", lat, "--probe-hysteresis", strconv.FormatFloat(c.Hysteresis, 'f', -1, 64),
			"--gps-interval", c.GPS.String(), "--heartbeat-interval", c.HB.String(),
			"--connect-rate", strconv.Itoa(c.ConnectRate), "--seed", strconv.Itoa(i+1),
			"--vibration-per-hour", "0", "--status-every", "10s", "--log-level", "warn")
		cmd.Args = append(cmd.Args, c.SimArgs...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("%w: start simulator %d: %v", ErrBench, i, err)
		}
		logf.Close()
		r.sims = append(r.sims, cmd)
	}
	return nil
}

// waitConnected polls the gateway's fleetedge_vehicles_connected every 50 ms
// until it reaches n, and returns the time it took.
func (r *runner) waitConnected(ctx context.Context, n float64, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	last := -1.0
	lastLog := start
	for {
		m, err := Scrape(ctx, r.http, r.metricsURL())
		if err == nil {
			last = m.Get("fleetedge_vehicles_connected")
			if last >= n {
				return time.Since(start), nil
			}
		}
		if time.Since(lastLog) > 10*time.Second {
			r.logf("  %.0f of %.0f connected", last, n)
			lastLog = time.Now()
		}
		if time.Since(start) > limit {
			return time.Since(start), fmt.Errorf("%w: %.0f of %.0f connected after %v", ErrBench, last, n, limit)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return time.Since(start), err
		}
	}
}

// window measures the steady state for cfg.Window.
func (r *runner) window(ctx context.Context) error {
	c := &r.cfg
	m0, err := Scrape(ctx, r.http, r.metricsURL())
	if err != nil {
		return err
	}
	gw0, _ := ReadProc(r.gw.Process.Pid)
	sim0 := r.simCPU()
	t0 := time.Now()
	r.logf("measuring %v; load %s", c.Window, LoadAvg())
	var perfDone chan error
	if c.Perf > 0 {
		perfDone = make(chan error, 1)
		go func() { perfDone <- r.perf(min(c.Perf, c.Window)) }()
	}
	r.res.Connected = m0.Get("fleetedge_vehicles_connected")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.NewTimer(c.Window)
	defer end.Stop()
	n := 0
loop:
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-end.C:
			break loop
		case <-tick.C:
			n++
			if st, err := ReadProc(r.gw.Process.Pid); err == nil && st.RSSBytes > r.res.GwRSSMax {
				r.res.GwRSSMax = st.RSSBytes
			}
			if n%10 == 0 {
				r.res.LoadDuring = append(r.res.LoadDuring, LoadAvg())
				if m, err := Scrape(ctx, r.http, r.metricsURL()); err == nil {
					r.res.Connected = min(r.res.Connected, m.Get("fleetedge_vehicles_connected"))
				}
			}
		}
	}
	m1, err := Scrape(ctx, r.http, r.metricsURL())
	if err != nil {
		return err
	}
	t1 := time.Now()
	gw1, _ := ReadProc(r.gw.Process.Pid)
	sim1 := r.simCPU()
	dt := t1.Sub(t0).Seconds()
	res := r.res
	res.WindowS = dt
	res.GwFDs, res.GwThreads = gw1.FDs, gw1.Threads
	res.GwRSSMax = max(res.GwRSSMax, gw1.RSSBytes)
	msgs := m1.Get("fleetedge_ingest_messages_total") - m0.Get("fleetedge_ingest_messages_total")
	res.MsgsPerSec = msgs / dt
	res.Durable = (m1.Get("fleetedge_outbox_appended_total") - m0.Get("fleetedge_outbox_appended_total")) / dt
	res.GwCPU = (gw1.CPU - gw0.CPU).Seconds() / dt
	if msgs > 0 {
		res.GwCPUPer1k = (gw1.CPU - gw0.CPU).Seconds() / (msgs / 1000)
	}
	res.SimCPU = (sim1 - sim0).Seconds() / dt
	res.Deltas = deltas(m0, m1, "fleetedge_ingest_messages_total", "fleetedge_ingest_received_total", "fleetedge_ingest_decode_errors_total",
		"fleetedge_ingest_spoofed_total", "fleetedge_ingest_store_errors_total", "fleetedge_outbox_appended_total",
		"fleetedge_rules_commands_total", "fleetedge_rules_held_fixes_total", "fleetedge_rules_ignored_fixes_total", "fleetedge_rules_transitions_total", "fleetedge_rules_alarms_total",
		"fleetedge_command_published_total", "fleetedge_command_retries_total", "fleetedge_command_outcomes_total",
		"fleetedge_command_unmatched_replies_total", "fleetedge_ingest_sessions_total")
	for _, k := range []string{`fleetedge_command_published_total{code="13"}`} {
		res.Deltas[k] = m1.Series[k] - m0.Series[k]
	}
	for k, v := range m1.Series {
		if strings.HasPrefix(k, "fleetedge_command_outcomes_total{") {
			res.Deltas[k] = v - m0.Series[k]
		}
	}
	res.Gauges = map[string]float64{}
	for _, k := range []string{"fleetedge_outbox_records", "fleetedge_outbox_bytes", "fleetedge_outbox_pending_requests",
		"fleetedge_outbox_oldest_age_seconds", "fleetedge_vehicles_connected", "process_resident_memory_bytes", "go_goroutines",
		"go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_next_gc_bytes",
		"go_memstats_sys_bytes", "go_gc_duration_seconds_count"} {
		res.Gauges[k] = m1.Get(k)
	}
	res.IngestP50 = HistQuantile(m0, m1, "fleetedge_ingest_latency_seconds", 0.5)
	res.IngestP99 = HistQuantile(m0, m1, "fleetedge_ingest_latency_seconds", 0.99)
	res.GwCmdP50 = HistQuantile(m0, m1, "fleetedge_ingest_report_to_command_seconds", 0.5)
	res.GwCmdP90 = HistQuantile(m0, m1, "fleetedge_ingest_report_to_command_seconds", 0.9)
	res.GwCmdP99 = HistQuantile(m0, m1, "fleetedge_ingest_report_to_command_seconds", 0.99)
	res.CommitP50 = HistQuantile(m0, m1, "fleetedge_outbox_commit_seconds", 0.5)
	if cnt := m1.Get("fleetedge_rules_evaluation_seconds_count") - m0.Get("fleetedge_rules_evaluation_seconds_count"); cnt > 0 {
		res.RulesMeanUS = (m1.Get("fleetedge_rules_evaluation_seconds_sum") - m0.Get("fleetedge_rules_evaluation_seconds_sum")) / cnt * 1e6
	}
	// The simulators flush their latency logs every second.
	if err := sleepCtx(ctx, 2500*time.Millisecond); err != nil {
		return err
	}
	var all []time.Duration
	for i := range c.Procs {
		f, err := os.Open(filepath.Join(c.Dir, fmt.Sprintf("latency-%d.log", i)))
		if err != nil {
			continue // a shard that measured nothing has no file yet
		}
		l, err := ReadLatencies(f, t0, t1)
		f.Close()
		if err != nil {
			return err
		}
		all = append(all, l...)
	}
	res.Latency = Summarise(all)
	res.LatencyStr = res.Latency.String()
	if perfDone != nil {
		if err := <-perfDone; err != nil {
			r.logf("perf: %v", err)
		}
	}
	r.logf("window: %.0f msg/s, fix→13 %s, gateway %.2f cores, RSS %d MiB; load %s",
		res.MsgsPerSec, res.LatencyStr, res.GwCPU, res.GwRSSMax>>20, LoadAvg())
	return nil
}

// perf samples the gateway's stacks with perf(1) for d and keeps the top
// symbols (self time) in the result; perf.data stays in the work dir.
func (r *runner) perf(d time.Duration) error {
	data := filepath.Join(r.cfg.Dir, "perf.data")
	rec := exec.Command("perf", "record", "-e", "cpu-clock", "-F", "499", "-g", "-p", strconv.Itoa(r.gw.Process.Pid),
		"-o", data, "--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 0, 64))
	if out, err := rec.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: perf record: %v: %s", ErrBench, err, out)
	}
	rep := exec.Command("perf", "report", "-i", data, "--no-children", "--sort", "symbol", "--stdio", "-g", "none", "--percent-limit", "0.7")
	out, err := rep.Output()
	if err != nil {
		return fmt.Errorf("%w: perf report: %v", ErrBench, err)
	}
	_ = os.WriteFile(filepath.Join(r.cfg.Dir, "perf-self.txt"), out, 0o644)
	for _, line := range strings.Split(string(out), "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			r.res.PerfTop = append(r.res.PerfTop, t)
		}
	}
	cum := exec.Command("perf", "report", "-i", data, "--children", "--sort", "symbol", "--stdio", "-g", "none", "--percent-limit", "3")
	if out, err := cum.Output(); err == nil {
		_ = os.WriteFile(filepath.Join(r.cfg.Dir, "perf-children.txt"), out, 0o644)
	}
	return nil
}

func (r *runner) restart(ctx context.Context, sig string) (RestartResult, error) {
	rr := RestartResult{Signal: sig}
	s := syscall.SIGTERM
	if sig == "kill" {
		s = syscall.SIGKILL
	}
	t := time.Now()
	if err := r.stopGateway(s); err != nil {
		return rr, err
	}
	rr.StopS = time.Since(t).Seconds()
	if err := r.startGateway(ctx); err != nil {
		return rr, err
	}
	rr.ReadyS = time.Since(r.gwStart).Seconds()
	if _, err := r.waitConnected(ctx, float64(r.cfg.N), 5*time.Minute); err != nil {
		return rr, err
	}
	rr.AdmitS = time.Since(r.gwStart).Seconds()
	if m, err := Scrape(ctx, r.http, r.metricsURL()); err == nil {
		rr.Admitted = m.Get("fleetedge_vehicles_connected")
		rr.AuthFailed = m.Get("fleetedge_broker_auth_total") - m.Match("fleetedge_broker_auth_total", `result="accepted"`)
		rr.Auth = map[string]float64{}
		for k, v := range m.Series {
			if strings.HasPrefix(k, "fleetedge_broker_auth_total{") {
				rr.Auth[k] = v
			}
		}
	}
	rr.LoadAfter = LoadAvg()
	return rr, sleepCtx(ctx, 5*time.Second)
}

func (r *runner) flood(ctx context.Context) (*FloodSummary, error) {
	c := &r.cfg
	data, err := os.ReadFile(r.files.creds)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBench, err)
	}
	sf, err := sim.ParseSecrets(data)
	if err != nil {
		return nil, err
	}
	vs := sf.Vehicles[:min(c.FloodConns, len(sf.Vehicles))]
	r.logf("flood: %d connections × %d in flight, %v; load %s", len(vs), c.FloodWindow, c.FloodDuration, LoadAvg())
	// Measure the gateway over the flood's counted period (after its 2 s warm-up).
	type snap struct {
		m  Metrics
		st ProcStat
		t  time.Time
	}
	snaps := make(chan snap, 2)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		if sleepCtx(fctx, 2*time.Second+5*time.Second) != nil { // connect time is unknown: take it late and early
			return
		}
		for range 2 {
			m, _ := Scrape(fctx, r.http, r.metricsURL())
			st, _ := ReadProc(r.gw.Process.Pid)
			snaps <- snap{m, st, time.Now()}
			if sleepCtx(fctx, c.FloodDuration-8*time.Second) != nil {
				return
			}
		}
	}()
	fr, err := Flood(ctx, FloodConfig{Broker: c.MQTTAddr, Vehicles: vs, Window: c.FloodWindow, Duration: c.FloodDuration})
	fs := &FloodSummary{FloodResult: fr, Load: LoadAvg()}
	if err != nil {
		return fs, err
	}
	if len(snaps) == 2 {
		a, b := <-snaps, <-snaps
		dt := b.t.Sub(a.t).Seconds()
		fs.GatewayDurable = (b.m.Get("fleetedge_outbox_appended_total") - a.m.Get("fleetedge_outbox_appended_total")) / dt
		msgs := b.m.Get("fleetedge_ingest_messages_total") - a.m.Get("fleetedge_ingest_messages_total")
		fs.GatewayMsgs = msgs / dt
		fs.GwCPU = (b.st.CPU - a.st.CPU).Seconds() / dt
		if msgs > 0 {
			fs.GwCPUPer1k = (b.st.CPU - a.st.CPU).Seconds() / (msgs / 1000)
		}
		fs.CommitP50 = HistQuantile(a.m, b.m, "fleetedge_outbox_commit_seconds", 0.5)
		if n := b.m.Get("fleetedge_outbox_batch_requests_count") - a.m.Get("fleetedge_outbox_batch_requests_count"); n > 0 {
			fs.BatchMean = (b.m.Get("fleetedge_outbox_batch_requests_sum") - a.m.Get("fleetedge_outbox_batch_requests_sum")) / n
		}
	}
	r.logf("flood: client %.0f PUBACK/s, gateway %.0f durable records/s (%.0f msg/s), %.2f cores, commit p50 %.1f ms, %.0f per batch; %d errors %s",
		fr.Rate, fs.GatewayDurable, fs.GatewayMsgs, fs.GwCPU, fs.CommitP50*1000, fs.BatchMean, fr.Errors, fr.FirstError)
	return fs, nil
}

func (r *runner) simCPU() time.Duration {
	var d time.Duration
	for _, s := range r.sims {
		if st, err := ReadProc(s.Process.Pid); err == nil {
			d += st.CPU
		}
	}
	return d
}

func (r *runner) stopGateway(sig syscall.Signal) error {
	if r.gw == nil {
		return nil
	}
	p := r.gw.Process
	r.gw = nil
	_ = p.Signal(sig)
	done := make(chan struct{})
	go func() {
		// Wait was started by startGateway's goroutine; poll the pid instead.
		for syscall.Kill(p.Pid, 0) == nil {
			time.Sleep(10 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(30 * time.Second):
		_ = p.Kill()
		<-done
		return fmt.Errorf("%w: gateway did not stop within 30 s of %v", ErrBench, sig)
	}
}

func (r *runner) stopSims() {
	for _, s := range r.sims {
		_ = s.Process.Signal(syscall.SIGTERM)
	}
	for _, s := range r.sims {
		done := make(chan struct{})
		go func() { _ = s.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = s.Process.Kill()
			<-done
		}
	}
	r.sims = nil
}

func (r *runner) stopAll() {
	r.stopSims()
	_ = r.stopGateway(syscall.SIGTERM)
}

// write saves the result as JSON and as the text summary Summary prints.
func (r *runner) write() error {
	stamp := r.res.Started.UTC().Format("20060102-150405")
	b, err := json.MarshalIndent(r.res, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBench, err)
	}
	jp := filepath.Join(r.cfg.Dir, "results-"+stamp+".json")
	tp := filepath.Join(r.cfg.Dir, "results-"+stamp+".txt")
	txt := Summary(r.res)
	fmt.Fprint(r.cfg.Out, txt)
	r.logf("results: %s %s", tp, jp)
	return errors.Join(os.WriteFile(jp, b, 0o644), os.WriteFile(tp, []byte(txt), 0o644))
}

// Summary renders a result as the text the results file holds, with each
// goal of issue 3 item 12 marked met or not.
func Summary(res *Result) string {
	var b strings.Builder
	ok := func(c bool) string {
		if c {
			return "MET"
		}
		return "NOT MET"
	}
	fmt.Fprintf(&b, "fleetedge edge gateway load benchmark, %s, host %s (%d CPUs)\n", res.Started.UTC().Format(time.RFC3339), res.Host, res.CPUs)
	fmt.Fprintf(&b, "fleet: %d scooters in %d simulator processes, all riding, GPS every %s, heartbeat every %s, QoS 1; %d zones; hysteresis %.0f m\n",
		res.Scooters, res.SimProcs, res.GPS, res.Heartbeat, res.Zones, res.Hysteresis)
	fmt.Fprintf(&b, "load average before: %s; during the window: %s\n", res.LoadBefore, strings.Join(res.LoadDuring, " | "))
	fmt.Fprintf(&b, "first start: %d connected %.1f s after the simulators started\n", res.Scooters, res.FirstAdmit)
	if res.WindowS > 0 {
		fmt.Fprintf(&b, "window: %.1f s, connected (min) %.0f\n", res.WindowS, res.Connected)
		fmt.Fprintf(&b, "messages/s: %.0f accepted, %.0f durable records/s\n", res.MsgsPerSec, res.Durable)
		fmt.Fprintf(&b, "fix→13 latency (scooter side): %s\n", res.LatencyStr)
		if res.Latency.N > 0 {
			fmt.Fprintf(&b, "  goal p99 < 20 ms: %s; goal p50 < 2 ms: %s\n", ok(res.Latency.P99 < 20*time.Millisecond), ok(res.Latency.P50 < 2*time.Millisecond))
		}
		fmt.Fprintf(&b, "gateway: %.2f cores, %.3f CPU-s per 1,000 messages, RSS max %.0f MiB (goal < 1 GiB: %s), %d fds, %d threads\n",
			res.GwCPU, res.GwCPUPer1k, float64(res.GwRSSMax)/(1<<20), ok(res.GwRSSMax < 1<<30), res.GwFDs, res.GwThreads)
		fmt.Fprintf(&b, "simulators: %.2f cores\n", res.SimCPU)
		fmt.Fprintf(&b, "ingest latency (receive → durable PUBACK) p50 %.2f ms p99 %.2f ms; outbox commit p50 %.2f ms; rules mean %.1f µs per fix\n",
			res.IngestP50*1000, res.IngestP99*1000, res.CommitP50*1000, res.RulesMeanUS)
		if res.GwCmdP50 > 0 {
			fmt.Fprintf(&b, "gateway side of fix→13 (report received → command written) p50 %.2f ms p90 %.2f ms p99 %.2f ms (histogram buckets)\n",
				res.GwCmdP50*1000, res.GwCmdP90*1000, res.GwCmdP99*1000)
		}
		keys := make([]string, 0, len(res.Deltas))
		for k := range res.Deltas {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintf(&b, "window counters:\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s %.0f\n", k, res.Deltas[k])
		}
		keys = keys[:0]
		for k := range res.Gauges {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprintf(&b, "at the end of the window:\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s %.0f\n", k, res.Gauges[k])
		}
	}
	admitGoal := func(rr RestartResult) string {
		if res.Scooters < 15000 {
			return "n/a below 15,000 scooters"
		}
		return ok(rr.AdmitS < 10 && rr.Admitted >= 15000)
	}
	for _, rr := range res.Restarts {
		fmt.Fprintf(&b, "restart (SIG%s): stopped in %.2f s; restarted gateway ready in %.2f s; %.0f admitted %.2f s after start (goal 15,000 within 10 s: %s); auth not accepted %.0f %v; load after %s\n",
			strings.ToUpper(rr.Signal), rr.StopS, rr.ReadyS, rr.Admitted, rr.AdmitS, admitGoal(rr), rr.AuthFailed, rr.Auth, rr.LoadAfter)
	}
	if f := res.Flood; f != nil {
		fmt.Fprintf(&b, "durable ingest ceiling: %d connections × %d QoS 1 in flight: client %.0f PUBACK/s over %.1f s; gateway %.0f durable records/s (goal ≥ 50,000/s: %s), %.2f cores, %.3f CPU-s per 1,000, commit p50 %.2f ms, %.0f requests per commit; errors %d %s; load %s\n",
			f.Connected, f.Window, f.Rate, f.Duration.Seconds(), f.GatewayDurable, ok(f.GatewayDurable >= 50000), f.GwCPU, f.GwCPUPer1k, f.CommitP50*1000, f.BatchMean, f.Errors, f.FirstError, f.Load)
	}
	if len(res.PerfTop) > 0 {
		fmt.Fprintf(&b, "gateway CPU by symbol (perf, self time):\n")
		for i, l := range res.PerfTop {
			if i == 25 {
				break
			}
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return b.String()
}

// deltas is m1 − m0 for the sums of the named metrics.
func deltas(m0, m1 Metrics, names ...string) map[string]float64 {
	d := make(map[string]float64, len(names))
	for _, n := range names {
		d[n] = m1.Get(n) - m0.Get(n)
	}
	return d
}

// HistQuantile estimates quantile q of a Prometheus histogram over the
// interval between two scrapes (linear within the bucket, like
// histogram_quantile). It returns 0 without observations.
func HistQuantile(m0, m1 Metrics, name string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	prefix := name + "_bucket{"
	for k, v := range m1.Series {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		i := strings.Index(k, `le="`)
		if i < 0 {
			continue
		}
		s := k[i+4:]
		s = s[:strings.IndexByte(s, '"')]
		le, err := strconv.ParseFloat(s, 64)
		if err != nil {
			continue
		}
		bs = append(bs, bucket{le, v - m0.Series[k]})
	}
	slices.SortFunc(bs, func(a, b bucket) int {
		switch {
		case a.le < b.le:
			return -1
		case a.le > b.le:
			return 1
		}
		return 0
	})
	if len(bs) == 0 || bs[len(bs)-1].n <= 0 {
		return 0
	}
	rank := q * bs[len(bs)-1].n
	prevLe, prevN := 0.0, 0.0
	for _, b := range bs {
		if b.n >= rank {
			if isInf(b.le) {
				return prevLe
			}
			if b.n == prevN {
				return b.le
			}
			return prevLe + (b.le-prevLe)*(rank-prevN)/(b.n-prevN)
		}
		prevLe, prevN = b.le, b.n
	}
	return prevLe
}

func isInf(f float64) bool { return f > 1e300 }

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBench, err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}

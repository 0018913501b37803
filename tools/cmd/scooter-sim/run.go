package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetedge/fleetedge/shared/zone"
	"github.com/fleetedge/fleetedge/tools/citymap"
	"github.com/fleetedge/fleetedge/tools/loadgen"
	"github.com/fleetedge/fleetedge/tools/sim"
)

// config is the run subcommand's configuration.
type config struct {
	Broker      string
	Creds       string // simulator credentials file; empty: generated ids with Secret
	IDPrefix    string
	Secret      string
	N           int // 0: every vehicle of the credentials file
	IDOffset    int
	ShardIndex  int
	ShardCount  int
	City        string
	Zones       string // GBFS zones file for the fix→13 latency probe; empty: none
	CAFile      string // PEM roots for a tls:// broker; empty: system roots
	StatusEvery time.Duration
	LogLevel    string
	// Benchmark options (make bench-edge): every scooter riding from the
	// start, the fix→13 latencies streamed to a file, a probe that follows the
	// gateway's border hysteresis.
	RideAll          bool
	LatencyLog       string
	ProbeHysteresisM float64
	Sim              sim.Config
}

func parseRun(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Broker, "broker", "127.0.0.1:1883", "gateway MQTT address (host:port, tcp://host:port or tls://host:port)")
	fs.StringVar(&c.Creds, "creds", "deploy/demo/barcelona/sim-credentials.json", "simulator credentials file (scooter-sim provision); empty: generated ids with --secret")
	fs.StringVar(&c.IDPrefix, "id-prefix", "SIM", "vehicle number prefix when --creds is empty")
	fs.StringVar(&c.Secret, "secret", "", "MQTT password of every scooter when --creds is empty")
	fs.IntVar(&c.N, "n", 0, "number of scooters (0: all of the credentials file; required without --creds)")
	fs.IntVar(&c.IDOffset, "id-offset", 0, "skip this many vehicles of the credentials file (or first generated index)")
	shard := fs.String("shard", "0/1", "i/n: simulate only every n-th vehicle starting at i, to split a fleet over n processes")
	fs.StringVar(&c.City, "city", "deploy/demo/barcelona/streets.json", "street graph file")
	fs.StringVar(&c.CAFile, "ca-file", "", "PEM certificate(s) to trust for a tls:// broker (empty: system roots)")
	fs.StringVar(&c.Zones, "zones", "deploy/demo/barcelona/geofencing_zones.json", "GBFS geofencing_zones.json used to detect zone crossings for the fix→13 latency (empty: no latency)")
	fs.DurationVar(&c.StatusEvery, "status-every", 10*time.Second, "status line period (0: none)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.RideAll, "ride-all", false, "every scooter starts riding at once and rides on forever (benchmarks)")
	fs.StringVar(&c.LatencyLog, "latency-log", "", "append every fix→13 latency to this file as \"<arrival unix ns> <latency ns>\" lines (benchmarks)")
	fs.Float64Var(&c.ProbeHysteresisM, "probe-hysteresis", 0, "the gateway's --hysteresis-metres: count a crossing at the fix the gateway acts on (0: at the first fix past the border)")
	s := &c.Sim
	fs.DurationVar(&s.GPSInterval, "gps-interval", 5*time.Second, "GPS report (19) period")
	fs.DurationVar(&s.HeartbeatInterval, "heartbeat-interval", 30*time.Second, "heartbeat (27) period")
	fs.Float64Var(&s.GPSNoise, "gps-noise", 3, "GPS error, metres (standard deviation per axis)")
	fs.DurationVar(&s.Tick, "tick", 100*time.Millisecond, "worker period")
	fs.IntVar(&s.Workers, "workers", 0, "worker goroutines (0: 2×GOMAXPROCS)")
	fs.Float64Var(&s.QuirkRate, "quirk-rate", 0.05, "probability that a message uses a vendor quirk")
	fs.Float64Var(&s.OldFirmware, "old-firmware", 0.1, "fraction of scooters on the old firmware (55/57 on o)")
	fs.Float64Var(&s.VibrationPerHour, "vibration-per-hour", 0.5, "spontaneous vibration events per parked scooter per hour")
	fs.Float64Var(&s.AutoRidePerHour, "auto-ride-per-hour", 0, "rides a parked scooter starts on its own per hour (demo without riders)")
	fs.BoolVar(&s.AutoPark, "auto-park", true, "self-started rides end (power off) at their destination")
	fs.Float64Var(&s.MinSpeedKmh, "min-speed", 12, "rider cruising speed, lowest km/h")
	fs.Float64Var(&s.MaxSpeedKmh, "max-speed", 24, "rider cruising speed, highest km/h")
	fs.Float64Var(&s.Faults.Disconnect, "fault-disconnect", 0, "probability per GPS fix of dropping the connection")
	fs.Float64Var(&s.Faults.Duplicate, "fault-duplicate", 0, "probability per report of publishing it twice")
	fs.Float64Var(&s.Faults.Garbage, "fault-garbage", 0, "probability per GPS fix of an extra undecodable payload")
	fs.Float64Var(&s.Faults.Spoof, "fault-spoof", 0, "probability per GPS fix of an extra fix with another vehicle's i")
	fs.Float64Var(&s.Faults.LateAck, "fault-late-ack", 0, "probability per reply of sending it late")
	fs.Float64Var(&s.Faults.MissingAck, "fault-missing-ack", 0, "probability per reply of never sending it")
	fs.Float64Var(&s.Faults.FirmwareFail, "fault-firmware", 0, "probability per firmware package of answering 68 s=1")
	fs.DurationVar(&s.Faults.LateAckDelay, "late-ack-delay", 3*time.Second, "delay of a late reply")
	fs.IntVar(&s.ConnectRate, "connect-rate", 500, "new connections per second")
	fs.DurationVar(&s.ReconnectDelay, "reconnect-delay", 2*time.Second, "wait before reconnecting after a lost connection (±50%)")
	fs.Uint64Var(&s.Seed, "seed", 1, "random seed (same seed, same fleet and trips)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	i, n, ok := strings.Cut(*shard, "/")
	var err1, err2 error
	c.ShardIndex, err1 = strconv.Atoi(i)
	c.ShardCount, err2 = strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || c.ShardCount < 1 || c.ShardIndex < 0 || c.ShardIndex >= c.ShardCount {
		return nil, fmt.Errorf("--shard %q: want i/n with 0 <= i < n", *shard)
	}
	if c.N < 0 || c.IDOffset < 0 {
		return nil, fmt.Errorf("--n and --id-offset must not be negative")
	}
	if c.Creds == "" && (c.N == 0 || c.Secret == "") {
		return nil, fmt.Errorf("without --creds, --n and --secret are required")
	}
	return c, nil
}

// vehicles picks this process's scooters: the credentials file (or generated
// ids), from --id-offset, --n of them, then every ShardCount-th.
func (c *config) vehicles() ([]sim.Credential, error) {
	var all []sim.Credential
	if c.Creds != "" {
		data, err := os.ReadFile(c.Creds)
		if err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		f, err := sim.ParseSecrets(data)
		if err != nil {
			return nil, err
		}
		all = f.Vehicles
		if c.IDOffset > len(all) {
			return nil, fmt.Errorf("--id-offset %d beyond the %d vehicles of %s", c.IDOffset, len(all), c.Creds)
		}
		all = all[c.IDOffset:]
		if c.N > 0 {
			all = all[:min(c.N, len(all))]
		}
	} else {
		for i := range c.N {
			all = append(all, sim.Credential{ID: sim.VehicleID(c.IDPrefix, c.IDOffset+i), Secret: c.Secret})
		}
	}
	var mine []sim.Credential
	for i, v := range all {
		if i%c.ShardCount == c.ShardIndex {
			mine = append(mine, v)
		}
	}
	if len(mine) == 0 {
		return nil, fmt.Errorf("no vehicles to simulate in shard %d/%d", c.ShardIndex, c.ShardCount)
	}
	return mine, nil
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseRun(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return run(ctx, c, log, stdout)
}

// run simulates the fleet until ctx ends, printing a status line every
// StatusEvery, then disconnects every scooter.
func run(ctx context.Context, c *config, log *slog.Logger, stdout io.Writer) error {
	vs, err := c.vehicles()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(c.City)
	if err != nil {
		return fmt.Errorf("city: %w", err)
	}
	g, err := citymap.Parse(data)
	if err != nil {
		return err
	}
	cfg := c.Sim
	cfg.Broker, cfg.Vehicles, cfg.Graph, cfg.Logger = c.Broker, vs, g, log
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return fmt.Errorf("ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ca-file %s: no PEM certificate", c.CAFile)
		}
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if c.Zones != "" {
		if cfg.ZoneProbe, err = limitProbe(c.Zones, c.ProbeHysteresisM); err != nil {
			return err
		}
	}
	var latLog *latencyLog
	if c.LatencyLog != "" {
		if latLog, err = openLatencyLog(c.LatencyLog); err != nil {
			return err
		}
		defer latLog.Close()
		cfg.OnCommand = latLog.onCommand
	}
	f, err := sim.New(cfg)
	if err != nil {
		return err
	}
	if c.RideAll {
		for _, id := range f.IDs() {
			if err := f.ForceRide(id); err != nil {
				return err
			}
		}
	}
	log.Info("starting", "scooters", len(vs), "broker", c.Broker, "shard", fmt.Sprintf("%d/%d", c.ShardIndex, c.ShardCount),
		"city", g.City, "nodes", len(g.Nodes), "gps", cfg.GPSInterval, "heartbeat", cfg.HeartbeatInterval)
	if err := f.Start(ctx); err != nil {
		return err
	}
	var tick <-chan time.Time
	if c.StatusEvery > 0 {
		t := time.NewTicker(c.StatusEvery)
		defer t.Stop()
		tick = t.C
	}
	var prev sim.Stats
	last := time.Now()
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	for {
		select {
		case <-flush.C:
			if latLog != nil {
				latLog.Flush()
			}
		case <-ctx.Done():
			st := f.Stats()
			err := f.Close()
			fmt.Fprintln(stdout, statusLine(st, prev, time.Since(last), f.Latencies()))
			log.Info("stopped")
			return err
		case now := <-tick:
			st := f.Stats()
			fmt.Fprintln(stdout, statusLine(st, prev, now.Sub(last), f.Latencies()))
			prev, last = st, now
		}
	}
}

// statusLine is one short line: connections, riding, publish rate, commands,
// errors and the fix→13 latency percentiles measured so far.
func statusLine(st, prev sim.Stats, d time.Duration, lat []time.Duration) string {
	rate := 0.0
	if d > 0 {
		rate = float64(st.Published-prev.Published) / d.Seconds()
	}
	s := fmt.Sprintf("scooters=%d connected=%d riding=%d pub/s=%.0f published=%d commands=%d bad_commands=%d publish_errors=%d connects=%d connect_errors=%d disconnects=%d",
		st.Scooters, st.Connected, st.Powered, rate, st.Published, st.Commands, st.BadCommands, st.PublishErrors, st.Connects, st.ConnectErrors, st.Disconnects)
	if len(lat) > 0 {
		slices.Sort(lat)
		p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
		s += fmt.Sprintf(" fix_to_13 n=%d p50=%v p99=%v", len(lat), p(0.5).Round(time.Microsecond), p(0.99).Round(time.Microsecond))
	}
	return s
}

// limitProbe loads the zones file for sim.SpeedLimitProbe, or for
// loadgen.HysteresisProbe when hysteresisM > 0.
func limitProbe(path string, hysteresisM float64) (sim.ZoneProbe, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	set, err := zone.Load(data, zone.Options{})
	if err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	if hysteresisM > 0 {
		return loadgen.HysteresisProbe(set, "", hysteresisM, sim.SystemClock{}), nil
	}
	return sim.SpeedLimitProbe(set, "", sim.SystemClock{}), nil
}

// latencyLog streams measured fix→13 latencies to a file (see loadgen.ReadLatencies).
type latencyLog struct {
	mu sync.Mutex
	f  *os.File
	w  *bufio.Writer
}

func openLatencyLog(path string) (*latencyLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("latency log: %w", err)
	}
	return &latencyLog{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// onCommand is sim.Config.OnCommand: it logs every 13 that claimed a crossing.
func (l *latencyLog) onCommand(_ string, rec sim.CommandRecord) {
	if rec.Crossing == nil {
		return
	}
	l.mu.Lock()
	_ = loadgen.WriteLatency(l.w, loadgen.LatencySample{Arrival: rec.At, Latency: rec.Latency, LimitKmh: rec.LimitKmh,
		FixGap: rec.LastFix - rec.Crossing.Fix.Seq, From: rec.Crossing.From, To: rec.Crossing.Fix.Zone}) // a full disk shows in Close
	l.mu.Unlock()
}

func (l *latencyLog) Flush() {
	l.mu.Lock()
	_ = l.w.Flush() // reported by Close
	l.mu.Unlock()
}

func (l *latencyLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.w.Flush(), l.f.Close())
}

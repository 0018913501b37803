// Command edge-bench runs the city gateway load benchmark (`make bench-edge`,
// issue 3 item 12): it provisions N scooters, writes a 500-zone version of the
// demo city, starts the gateway and the simulated fleet spread over several
// scooter-sim processes (every scooter riding, GPS every 5 s, heartbeat every
// 30 s, QoS 1), waits for every connection, measures a fixed window (fix→13
// latency from the scooters' side, messages/s, gateway CPU and RSS, command
// counts, decode errors, outbox depth), optionally restarts the gateway under
// the connected fleet (--restart term,kill) to time the reconnect storm, and
// optionally floods it with QoS 1 reports (--flood) for the durable ingest
// ceiling. The summary goes to stdout and to <dir>/results-<time>.{txt,json}.
//
//	go build -o bin/ ./edge/cmd/gateway ./tools/cmd/scooter-sim ./tools/cmd/edge-bench
//	bin/edge-bench --n 15000 --procs 4 --window 60s --restart term,kill --flood
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/fleetedge/fleetedge/tools/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "edge-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	c.Out = stdout
	_, err = loadgen.Run(ctx, c)
	return err
}

func parse(args []string, stderr io.Writer) (loadgen.Config, error) {
	var c loadgen.Config
	fs := flag.NewFlagSet("edge-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.GatewayBin, "gateway", "bin/gateway", "gateway binary")
	fs.StringVar(&c.SimBin, "sim", "bin/scooter-sim", "scooter-sim binary")
	fs.StringVar(&c.Dir, "dir", ".data/bench", "work directory: credentials, zones, gateway data, logs, results")
	fs.StringVar(&c.CityDir, "city-dir", "deploy/demo/barcelona", "base city: streets.json and geofencing_zones.json")
	fs.StringVar(&c.City, "city", "barcelona", "city id")
	fs.IntVar(&c.N, "n", 15000, "scooters")
	fs.IntVar(&c.Procs, "procs", 4, "simulator processes (each holds N/procs connections; 20,000 open files per process here)")
	fs.IntVar(&c.Zones, "zones", 500, "zones in the benchmark city (the demo's plus generated slow zones on the streets)")
	fs.DurationVar(&c.GPS, "gps-interval", 0, "GPS report period (default 5s)")
	fs.DurationVar(&c.HB, "heartbeat-interval", 0, "heartbeat period (default 30s)")
	fs.IntVar(&c.ConnectRate, "connect-rate", 2000, "new connections per second per simulator process")
	fs.Float64Var(&c.Hysteresis, "hysteresis-metres", 10, "the gateway's --hysteresis-metres (its default, 10); the simulators' probe follows it")
	fs.DurationVar(&c.Warmup, "warmup", 0, "wait after every scooter is connected (default heartbeat interval + 5s: the gateway learns 'riding' from heartbeats)")
	fs.DurationVar(&c.Window, "window", 0, "measured period (default 60s)")
	restart := fs.String("restart", "", "restart phases after the window, comma-separated: term (SIGTERM), kill (SIGKILL)")
	fs.BoolVar(&c.Flood, "flood", false, "after the rest, stop the simulators and flood the gateway with QoS 1 reports (durable ingest ceiling)")
	fs.IntVar(&c.FloodConns, "flood-conns", 1000, "flood connections")
	fs.IntVar(&c.FloodWindow, "flood-window", 32, "QoS 1 publishes in flight per flood connection")
	fs.DurationVar(&c.FloodDuration, "flood-duration", 0, "counted flood period (default 20s)")
	fs.DurationVar(&c.Perf, "perf", 0, "perf record the gateway this long during the window (0: no; needs perf)")
	fs.StringVar(&c.MQTTAddr, "mqtt-addr", "", "gateway MQTT address (default: a free loopback port)")
	fs.StringVar(&c.HTTPAddr, "http-addr", "", "gateway HTTP address (default: a free loopback port)")
	simArgs := fs.String("sim-args", "", "extra scooter-sim run flags, space-separated (e.g. \"--quirk-rate 0\")")
	gwArgs := fs.String("gateway-args", "", "extra gateway flags, space-separated")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.SimArgs, c.GatewayArgs = strings.Fields(*simArgs), strings.Fields(*gwArgs)
	if *restart != "" {
		for _, s := range strings.Split(*restart, ",") {
			switch s = strings.TrimSpace(s); s {
			case "term", "kill":
				c.Restart = append(c.Restart, s)
			default:
				return c, fmt.Errorf("--restart: %q is not term or kill", s)
			}
		}
	}
	if c.N < 1 || c.Procs < 1 || c.Procs > c.N {
		return c, fmt.Errorf("--n must be >= 1 and --procs between 1 and --n")
	}
	return c, nil
}

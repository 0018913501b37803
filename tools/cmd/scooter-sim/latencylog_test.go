package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/tools/loadgen"
	"github.com/fleetedge/fleetedge/tools/sim"
)

func TestLatencyLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lat.log")
	l, err := openLatencyLog(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_700_000_000, 0)
	l.onCommand("BCN00001", sim.CommandRecord{Code: 13, At: at, LimitKmh: 10}) // no crossing: not logged
	l.onCommand("BCN00001", sim.CommandRecord{Code: 13, At: at, LimitKmh: 10, LastFix: 7, Latency: 3 * time.Millisecond,
		Crossing: &sim.Crossing{Fix: sim.Fix{Seq: 7, Zone: "10"}, From: "none"}})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := loadgen.ReadLatencies(f, at, at.Add(time.Second))
	if err != nil || len(got) != 1 || got[0] != 3*time.Millisecond {
		t.Fatalf("%v %v", got, err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "1700000000000000000 3000000 10 0 none>10\n" {
		t.Fatalf("line %q", b)
	}
}

func TestRunFlags(t *testing.T) {
	c, err := parseRun([]string{"--ride-all", "--latency-log", "x.log", "--probe-hysteresis", "10"}, os.Stderr)
	if err != nil || !c.RideAll || c.LatencyLog != "x.log" || c.ProbeHysteresisM != 10 {
		t.Fatalf("%+v %v", c, err)
	}
}

package main

import (
	"io"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	c, err := parse([]string{"--n", "1000", "--procs", "2", "--restart", "term,kill", "--flood", "--window", "20s", "--sim-args", "--quirk-rate 0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.N != 1000 || c.Procs != 2 || len(c.Restart) != 2 || c.Restart[1] != "kill" || !c.Flood || c.Window != 20*time.Second ||
		len(c.SimArgs) != 2 || c.SimArgs[0] != "--quirk-rate" {
		t.Fatalf("%+v", c)
	}
	for _, bad := range [][]string{{"--restart", "hup"}, {"--n", "0"}, {"--n", "2", "--procs", "3"}, {"extra"}} {
		if _, err := parse(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

package loadgen

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLatencyLogRoundTrip(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var buf bytes.Buffer
	for i := range 10 {
		s := LatencySample{Arrival: t0.Add(time.Duration(i) * time.Second), Latency: time.Duration(i+1) * time.Millisecond,
			LimitKmh: 10, FixGap: 0, From: "none|3", To: "10"}
		if err := WriteLatency(&buf, s); err != nil {
			t.Fatal(err)
		}
	}
	buf.WriteString("1700000099000000000 12") // a line still being written
	got, err := ReadLatencies(bytes.NewReader(buf.Bytes()), t0.Add(2*time.Second), t0.Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{3 * time.Millisecond, 4 * time.Millisecond, 5 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if _, err := ReadLatencies(strings.NewReader("garbage\n"), t0, t0.Add(time.Hour)); !errors.Is(err, ErrLatencyLog) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestSummarise(t *testing.T) {
	var d []time.Duration
	for i := 1000; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Microsecond)
	}
	q := Summarise(d)
	if q.N != 1000 || q.P50 != 500*time.Microsecond || q.P99 != 990*time.Microsecond || q.Max != time.Millisecond || q.P999 != 999*time.Microsecond {
		t.Fatalf("%+v", q)
	}
	if Summarise(nil).String() != "n=0" {
		t.Fatal("empty")
	}
}

package loadgen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrLatencyLog marks a malformed simulator latency log line.
var ErrLatencyLog = errors.New("loadgen: latency log")

// LatencySample is one measured fix→13 latency: when the 13 arrived at the
// scooter and how long after the crossing fix's publish.
type LatencySample struct {
	Arrival time.Time
	Latency time.Duration
	// LimitKmh is the 13's limit; FixGap is how many fixes the scooter
	// published after the claimed crossing before the 13 arrived (0: the 13
	// answers the latest fix); From and To are the probe keys of the crossing.
	LimitKmh int
	FixGap   uint64
	From, To string
}

// WriteLatency appends s to w in the log format scooter-sim --latency-log
// writes: "<arrival unix ns> <latency ns> <limit> <fix gap> <from>><to>\n"
// (readers need only the first two fields).
func WriteLatency(w io.Writer, s LatencySample) error {
	_, err := fmt.Fprintf(w, "%d %d %d %d %s>%s\n", s.Arrival.UnixNano(), int64(s.Latency), s.LimitKmh, s.FixGap,
		strings.ReplaceAll(s.From, " ", "_"), strings.ReplaceAll(s.To, " ", "_"))
	return err
}

// ReadLatencies reads a latency log, keeping the samples whose arrival is in
// [from, to). A truncated last line (a writer still running) is ignored.
func ReadLatencies(r io.Reader, from, to time.Time) ([]time.Duration, error) {
	var out []time.Duration
	br := bufio.NewReader(r)
	for line := 1; ; line++ {
		s, err := br.ReadString('\n')
		if err == io.EOF {
			return out, nil // a partial line without '\n' is still being written
		}
		if err != nil {
			return out, fmt.Errorf("%w: %v", ErrLatencyLog, err)
		}
		a, l, ok := strings.Cut(strings.TrimSpace(s), " ")
		l, _, _ = strings.Cut(l, " ")
		at, err1 := strconv.ParseInt(a, 10, 64)
		lat, err2 := strconv.ParseInt(l, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return out, fmt.Errorf("%w: line %d: %q", ErrLatencyLog, line, s)
		}
		t := time.Unix(0, at)
		if !t.Before(from) && t.Before(to) {
			out = append(out, time.Duration(lat))
		}
	}
}

// Quantiles summarises latencies (sorted in place).
type Quantiles struct {
	N                              int
	P50, P90, P99, P999, Max, Mean time.Duration
}

// Summarise sorts d and returns its quantiles (nearest rank).
func Summarise(d []time.Duration) Quantiles {
	q := Quantiles{N: len(d)}
	if len(d) == 0 {
		return q
	}
	slices.Sort(d)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(d))+0.5) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	q.P50, q.P90, q.P99, q.P999, q.Max, q.Mean = at(0.5), at(0.9), at(0.99), at(0.999), d[len(d)-1], sum/time.Duration(len(d))
	return q
}

func (q Quantiles) String() string {
	if q.N == 0 {
		return "n=0"
	}
	r := func(d time.Duration) string { return d.Round(time.Microsecond).String() }
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s p99.9=%s max=%s mean=%s", q.N, r(q.P50), r(q.P90), r(q.P99), r(q.P999), r(q.Max), r(q.Mean))
}

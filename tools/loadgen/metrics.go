package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrMetrics is wrapped by every metrics scrape or parse error.
var ErrMetrics = errors.New("loadgen: metrics")

// Metrics is one scrape of a Prometheus text exposition: every sample by its
// full series name (`name{labels}` as exposed), and the sum over the labels
// of each metric name.
type Metrics struct {
	Series map[string]float64
	Sum    map[string]float64
}

// Get returns the sum of every series of name (0 when absent).
func (m Metrics) Get(name string) float64 { return m.Sum[name] }

// Match sums the series of name whose labels contain every label pair in
// labels (e.g. `code="13"`).
func (m Metrics) Match(name string, labels ...string) float64 {
	var s float64
	for k, v := range m.Series {
		base, rest, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
				break
			}
		}
		if ok {
			s += v
		}
	}
	return s
}

// ParseMetrics reads the Prometheus text format (comments skipped; histogram
// buckets, sums and counts are plain series of their own names).
func ParseMetrics(r io.Reader) (Metrics, error) {
	m := Metrics{Series: map[string]float64{}, Sum: map[string]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The value follows the last space outside the label set; an optional
		// timestamp follows the value.
		series, rest := line, ""
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			series, rest = line[:i+1], strings.TrimSpace(line[i+1:])
		} else if j := strings.IndexByte(line, ' '); j >= 0 {
			series, rest = line[:j], strings.TrimSpace(line[j+1:])
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return m, fmt.Errorf("%w: no value in %q", ErrMetrics, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return m, fmt.Errorf("%w: value in %q: %v", ErrMetrics, line, err)
		}
		m.Series[series] += v
		name, _, _ := strings.Cut(series, "{")
		m.Sum[name] += v
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("%w: %v", ErrMetrics, err)
	}
	return m, nil
}

// Scrape fetches and parses url (a /metrics endpoint).
func Scrape(ctx context.Context, client *http.Client, url string) (Metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Metrics{}, fmt.Errorf("%w: %v", ErrMetrics, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Metrics{}, fmt.Errorf("%w: %v", ErrMetrics, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Metrics{}, fmt.Errorf("%w: %s: %s", ErrMetrics, url, resp.Status)
	}
	return ParseMetrics(resp.Body)
}

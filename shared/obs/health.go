package obs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// CheckFunc reports whether one dependency is usable. It must honour ctx's deadline.
type CheckFunc func(ctx context.Context) error

// CheckResult is the outcome of one readiness check, as shown in the /readyz body.
type CheckResult struct {
	Name       string  `json:"name"`
	OK         bool    `json:"ok"`
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// Report is the /readyz body.
type Report struct {
	// Ready is true when the process declared itself ready and every check passed.
	Ready bool `json:"ready"`
	// Status is "ready", "not ready" (a check failed) or the reason given to SetNotReady
	// (e.g. "starting", "stopping").
	Status string        `json:"status"`
	Checks []CheckResult `json:"checks"`
}

// ErrDuplicateCheck is returned when a check name is registered twice.
var ErrDuplicateCheck = errors.New("duplicate readiness check")

// ErrCheckTimeout is reported for a check that did not return within the check timeout.
var ErrCheckTimeout = errors.New("readiness check timed out")

type namedCheck struct {
	name string
	fn   CheckFunc
}

// Health holds the readiness state of one process: a ready flag the owner flips at the end of
// startup and at the start of shutdown, and named checks run on every /readyz request.
// Safe for concurrent use.
type Health struct {
	timeout time.Duration

	mu     sync.Mutex // guards checks
	checks []namedCheck

	ready    atomic.Bool
	notReady atomic.Pointer[string] // reason while not ready
}

// NewHealth returns a Health that is not ready ("starting") and runs each check with the given
// timeout (2 s when timeout <= 0).
func NewHealth(timeout time.Duration) *Health {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	h := &Health{timeout: timeout}
	h.SetNotReady("starting")
	return h
}

// Add registers a named check. Names are unique; the order of registration is the order shown.
func (h *Health) Add(name string, fn CheckFunc) error {
	if name == "" || fn == nil {
		return fmt.Errorf("add readiness check: empty name or nil func")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.checks {
		if c.name == name {
			return fmt.Errorf("add readiness check %q: %w", name, ErrDuplicateCheck)
		}
	}
	h.checks = append(h.checks, namedCheck{name: name, fn: fn})
	return nil
}

// SetReady declares the process ready: /readyz then reflects the checks.
func (h *Health) SetReady() { h.ready.Store(true) }

// SetNotReady makes /readyz answer 503 with reason as status, whatever the checks say: used while
// starting and as the first step of a graceful shutdown, so load balancers stop sending work.
func (h *Health) SetNotReady(reason string) {
	h.notReady.Store(&reason)
	h.ready.Store(false)
}

// Check runs every registered check concurrently, each bounded by the check timeout, and returns
// the report. A check that ignores its context is reported as timed out; its goroutine ends
// when the check itself returns (its result is then dropped).
func (h *Health) Check(ctx context.Context) Report {
	h.mu.Lock()
	checks := append([]namedCheck(nil), h.checks...)
	h.mu.Unlock()

	type indexed struct {
		i   int
		res CheckResult
	}
	// Buffered so that late checks never block after we stopped listening.
	out := make(chan indexed, len(checks))
	cctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	for i, c := range checks {
		go func() {
			start := time.Now()
			err := c.fn(cctx)
			r := CheckResult{Name: c.name, OK: err == nil, DurationMS: msSince(start)}
			if err != nil {
				r.Error = err.Error()
			}
			out <- indexed{i, r}
		}()
	}
	results := make([]CheckResult, len(checks))
	got := make([]bool, len(checks))
	// Grace beyond the context deadline for checks that return promptly on cancellation.
	timer := time.NewTimer(h.timeout + 100*time.Millisecond)
	defer timer.Stop()
collect:
	for n := 0; n < len(checks); n++ {
		select {
		case r := <-out:
			results[r.i], got[r.i] = r.res, true
		case <-timer.C:
			break collect
		}
	}
	allOK := true
	for i, c := range checks {
		if !got[i] {
			results[i] = CheckResult{Name: c.name, Error: fmt.Sprintf("%v after %v", ErrCheckTimeout, h.timeout), DurationMS: float64(h.timeout.Milliseconds())}
		}
		allOK = allOK && results[i].OK
	}
	rep := Report{Checks: results}
	switch {
	case !h.ready.Load():
		rep.Status = *h.notReady.Load()
	case !allOK:
		rep.Status = "not ready"
	default:
		rep.Ready, rep.Status = true, "ready"
	}
	return rep
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

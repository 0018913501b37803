package command

import "time"

// Clock is the manager's source of time. Timeouts, retries, backoff, expiry and
// the firmware job's waits all go through it, so tests drive them by hand.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or the goroutine that advances a
	// test clock) once d has elapsed, unless the timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a stoppable pending call from Clock.AfterFunc: Stop prevents the
// call if it has not started and reports whether it did. It is an alias of
// the unnamed interface so that one clock type can satisfy every package's
// Clock of this shape (rules, command) without adapters.
type Timer = interface{ Stop() bool }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

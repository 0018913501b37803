package loginguard_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/loginguard"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time      { return c.t }
func (c *clock) Add(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterTokenBucket(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l, err := loginguard.NewLimiter(loginguard.Rate{PerMinute: 6, Burst: 3}, 0, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if ok, _ := l.Allow("1.2.3.4"); !ok {
			t.Fatalf("attempt %d refused within burst", i)
		}
	}
	ok, wait := l.Allow("1.2.3.4")
	if ok || wait != 10*time.Second {
		t.Fatalf("4th: ok=%v wait=%v, want refused for 10s", ok, wait)
	}
	if ok, _ := l.Allow("5.6.7.8"); !ok {
		t.Fatal("another key is limited too")
	}
	c.Add(10 * time.Second)
	if ok, _ := l.Allow("1.2.3.4"); !ok {
		t.Fatal("token not refilled after 10s")
	}
	if ok, _ := l.Allow("1.2.3.4"); ok {
		t.Fatal("second token after one refill")
	}
}

func TestLimiterBounded(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l, _ := loginguard.NewLimiter(loginguard.Rate{PerMinute: 1, Burst: 1}, 100, c.Now)
	for i := range 1000 {
		l.Allow(fmt.Sprint(i))
	}
	if n := l.Len(); n > 100 {
		t.Fatalf("%d keys held, max 100", n)
	}
}

func TestLockoutBackoff(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	p := loginguard.DefaultPolicy()
	p.LockoutAfter, p.LockoutBase, p.LockoutMax = 3, time.Minute, 5*time.Minute
	lo, err := loginguard.NewLockout(p, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	const k = "ana@example.com"
	for i := range 2 {
		if d := lo.Fail(k); d != 0 {
			t.Fatalf("failure %d locked for %v", i+1, d)
		}
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if d := lo.Fail(k); d != w {
			t.Fatalf("failure %d: locked %v, want %v", i+3, d, w)
		}
		if locked, ra := lo.Check(k); !locked || ra != w {
			t.Fatalf("check after failure %d: %v %v", i+3, locked, ra)
		}
	}
	c.Add(5 * time.Minute)
	if locked, _ := lo.Check(k); locked {
		t.Fatal("still locked after the lock ran out")
	}
	lo.Succeed(k)
	if d := lo.Fail(k); d != 0 {
		t.Fatal("success did not reset the count")
	}
	// Failures far apart are forgotten.
	lo.Fail(k)
	c.Add(p.LockoutForget + time.Second)
	if d := lo.Fail(k); d != 0 {
		t.Fatalf("old failures counted: locked %v", d)
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := loginguard.DefaultPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := loginguard.DefaultPolicy()
	bad.LoginPerIP.Burst = 0
	if bad.Validate() == nil {
		t.Fatal("burst 0 accepted")
	}
	bad = loginguard.DefaultPolicy()
	bad.LockoutMax = time.Second
	if bad.Validate() == nil {
		t.Fatal("max < base accepted")
	}
}

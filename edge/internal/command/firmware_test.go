package command

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
)

// module is a scripted IoT module answering the upgrade exchange
// synchronously from the publisher.
type module struct {
	h *harness
	v protocol.VehicleID

	mu      sync.Mutex
	refuse  bool
	failFor func(serial, attempt int) bool // fail this reception?
	stale   bool                           // send a stale 68 for the previous serial first
	silent  map[int]bool                   // no reply at all for these serials
	result  *protocol.Status               // nil: no 69
	starts  int
	tries   map[int]int
	got     map[int]bool
	total   int
}

func (md *module) play(_ string, payload []byte) {
	c, err := protocol.DecodeCommand(payload)
	if err != nil {
		md.h.m.log.Error("bad command", "err", err)
		return
	}
	var replies []protocol.Report
	hd := protocol.Header{From: md.v}
	md.mu.Lock()
	switch c := c.(type) {
	case *protocol.StartUpgrade:
		md.starts++
		md.total, md.got = c.Packages, map[int]bool{}
		st := protocol.StatusOK
		if md.refuse {
			st = protocol.StatusFailed
		}
		replies = append(replies, &protocol.StartUpgradeReply{Header: hd, Ack: protocol.Ack{Status: st}})
	case *protocol.FirmwarePackage:
		md.tries[c.Serial]++
		if md.silent[c.Serial] {
			break
		}
		if md.stale && c.Serial > 0 {
			replies = append(replies, &protocol.FirmwarePackageReply{Header: hd, Serial: c.Serial - 1})
		}
		if md.failFor != nil && md.failFor(c.Serial, md.tries[c.Serial]) {
			replies = append(replies, &protocol.FirmwarePackageReply{Header: hd, Serial: c.Serial, Status: protocol.StatusFailed})
			break
		}
		md.got[c.Serial] = true
		replies = append(replies, &protocol.FirmwarePackageReply{Header: hd, Serial: c.Serial})
		if len(md.got) == md.total && md.result != nil {
			replies = append(replies, &protocol.UpgradeResult{Header: hd, Ack: protocol.Ack{Status: *md.result}})
		}
	}
	md.mu.Unlock()
	for _, r := range replies {
		md.h.m.OnReply(md.v, r, time.Time{})
	}
}

func newModule(t *testing.T, cfg Config) (*harness, *module) {
	t.Helper()
	h := newHarness(t, cfg)
	ok := protocol.StatusOK
	md := &module{h: h, v: veh, tries: map[int]int{}, result: &ok}
	h.pub.then = md.play
	h.m.VehicleOnline(veh)
	return h, md
}

var quick = UpgradeOptions{RestartDelay: time.Millisecond, ReconnectTimeout: time.Second, ResultTimeout: time.Second}

func waitJob(t *testing.T, u *Upgrade) (Progress, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := u.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("job did not end: %+v", p)
	}
	return p, err
}

func TestUpgradeOutcomes(t *testing.T) {
	img := testImage(3*PackageSize + 1) // 4 packages
	failed := protocol.StatusFailed
	cases := []struct {
		name     string
		setup    func(md *module)
		opts     func(o *UpgradeOptions)
		want     error
		state    UpgradeState
		restarts int
		failures int
		starts   int
	}{
		{name: "clean", state: UpgradeSucceeded, starts: 1},
		{name: "refused", setup: func(md *module) { md.refuse = true }, want: ErrUpgradeRefused, state: UpgradeFailed, starts: 1},
		{name: "resend after failures", setup: func(md *module) {
			md.failFor = func(x, n int) bool { return x == 1 && n <= 3 }
		}, state: UpgradeSucceeded, failures: 3, starts: 1},
		{name: "6th failure reply restarts", setup: func(md *module) {
			md.failFor = func(x, n int) bool { return x == 2 && n <= 6 }
		}, state: UpgradeSucceeded, failures: 6, restarts: 1, starts: 2},
		{name: "stale 68 does not ack the next package", setup: func(md *module) { md.stale = true },
			state: UpgradeSucceeded, starts: 1},
		{name: "too many restarts", setup: func(md *module) {
			md.failFor = func(x, n int) bool { return x == 0 }
		}, opts: func(o *UpgradeOptions) { o.MaxRestarts = 2 },
			want: ErrTooManyRestarts, state: UpgradeFailed, failures: 18, restarts: 3, starts: 3},
		{name: "69 failure", setup: func(md *module) { md.result = &failed }, want: ErrUpgradeFailed, state: UpgradeFailed, starts: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, md := newModule(t, Config{Clock: SystemClock{}})
			if c.setup != nil {
				c.setup(md)
			}
			opts := quick
			if c.opts != nil {
				c.opts(&opts)
			}
			u, err := h.m.StartUpgrade(veh, img, opts)
			if err != nil {
				t.Fatal(err)
			}
			p, err := waitJob(t, u)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) || p.State != c.state || p.Restarts != c.restarts || p.Failures != c.failures {
				t.Fatalf("%+v (err %v)", p, err)
			}
			md.mu.Lock()
			starts := md.starts
			md.mu.Unlock()
			if starts != c.starts {
				t.Fatalf("module saw %d starts, want %d", starts, c.starts)
			}
			if c.state == UpgradeSucceeded && p.Sent != 4 {
				t.Fatalf("sent %d", p.Sent)
			}
			if c.name == "stale 68 does not ack the next package" && h.m.Stats().Unmatched != 3 {
				t.Fatalf("stale 68s unmatched: %d, want 3", h.m.Stats().Unmatched)
			}
			if s := h.m.Stats(); s.Upgrades != 0 || s.Awaiting != 0 || s.Queued != 0 {
				t.Fatalf("left behind: %+v", s)
			}
		})
	}
}

func TestUpgradeNoResultTimesOut(t *testing.T) {
	h, md := newModule(t, Config{})
	md.result = nil
	u, err := h.m.StartUpgrade(veh, testImage(10), UpgradeOptions{ResultTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "last package acked", func() bool { return u.Progress().Sent == 1 && h.clock.pending() == 1 })
	h.clock.Advance(time.Minute)
	if p, err := waitJob(t, u); !errors.Is(err, ErrNoUpgradeResult) || p.State != UpgradeFailed {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestUpgradePackageTimeoutRestarts(t *testing.T) {
	h, md := newModule(t, Config{})
	md.silent = map[int]bool{1: true}
	u, err := h.m.StartUpgrade(veh, testImage(2*PackageSize), UpgradeOptions{MaxRestarts: 1, RestartDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// 67: 10 s per attempt, 2 retries after 1 s and 2 s; then a restart after 1 s.
	ended := func() bool {
		select {
		case <-u.Done():
			return true
		default:
			return false
		}
	}
	for i := 0; !ended(); i++ {
		if i > 20 {
			t.Fatalf("job still running: %+v", u.Progress())
		}
		waitFor(t, "a timer or the end", func() bool { return h.clock.pending() > 0 || ended() })
		h.clock.Advance(10 * time.Second)
	}
	p, err := waitJob(t, u)
	if !errors.Is(err, ErrTooManyRestarts) || !errors.Is(err, ErrTimeout) || p.Restarts != 2 {
		t.Fatalf("%+v %v", p, err)
	}
	md.mu.Lock()
	defer md.mu.Unlock()
	if md.starts != 2 || md.tries[1] != 6 {
		t.Fatalf("starts %d, tries of package 1: %d", md.starts, md.tries[1])
	}
}

func TestUpgradeCancelAndDisconnect(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		h, md := newModule(t, Config{})
		md.silent = map[int]bool{2: true}
		u, err := h.m.StartUpgrade(veh, testImage(4*PackageSize), UpgradeOptions{JobID: "j"})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "package 2 out", func() bool { md.mu.Lock(); defer md.mu.Unlock(); return md.tries[2] == 1 })
		if p := u.Progress(); p.Sent != 2 || p.State != UpgradeRunning {
			t.Fatalf("%+v", p)
		}
		if got, ok := h.m.UpgradeOf(veh); !ok || got != u || len(h.m.Upgrades()) != 1 {
			t.Fatal("running job not listed")
		}
		u.Cancel()
		p, err := waitJob(t, u)
		if !errors.Is(err, ErrCancelled) || p.State != UpgradeCancelled {
			t.Fatalf("%+v %v", p, err)
		}
		evs := fwEvents(h.sink)
		if last := evs[len(evs)-1]; last.State != "failed" || last.JobID != "j" || last.Sent != 2 {
			t.Fatalf("events %+v", evs)
		}
		if s := h.m.Stats(); s.Awaiting != 0 || s.Upgrades != 0 {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("disconnect restarts after reconnect", func(t *testing.T) {
		h, md := newModule(t, Config{Clock: SystemClock{}})
		md.silent = map[int]bool{1: true}
		u, err := h.m.StartUpgrade(veh, testImage(3*PackageSize), quick)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "package 1 out", func() bool { md.mu.Lock(); defer md.mu.Unlock(); return md.tries[1] == 1 })
		md.mu.Lock()
		md.silent = nil
		md.mu.Unlock()
		h.m.VehicleOffline(veh)
		waitFor(t, "restart", func() bool { return u.Progress().Restarts == 1 })
		time.Sleep(20 * time.Millisecond)
		md.mu.Lock()
		starts := md.starts
		md.mu.Unlock()
		if starts != 1 {
			t.Fatalf("started again while offline (%d)", starts)
		}
		h.m.VehicleOnline(veh)
		if p, err := waitJob(t, u); err != nil || p.Sent != 3 || p.Restarts != 1 {
			t.Fatalf("%+v %v", p, err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		h := newHarness(t, Config{})
		if _, err := h.m.StartUpgrade(veh, nil, UpgradeOptions{}); !errors.Is(err, ErrImage) {
			t.Fatal(err)
		}
		if _, err := h.m.StartUpgrade(veh, make([]byte, 65536*PackageSize), UpgradeOptions{}); !errors.Is(err, ErrImage) {
			t.Fatal(err)
		}
		if _, err := h.m.StartUpgrade("o", []byte{1}, UpgradeOptions{}); !errors.Is(err, ErrInvalid) {
			t.Fatal(err)
		}
		if err := h.m.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := h.m.StartUpgrade(veh, []byte{1}, UpgradeOptions{}); !errors.Is(err, ErrClosed) {
			t.Fatal(err)
		}
	})
	t.Run("close cancels a running job", func(t *testing.T) {
		h, md := newModule(t, Config{})
		md.silent = map[int]bool{0: true}
		u, err := h.m.StartUpgrade(veh, testImage(10), UpgradeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "package 0 out", func() bool { md.mu.Lock(); defer md.mu.Unlock(); return md.tries[0] == 1 })
		if err := h.m.Close(); err != nil {
			t.Fatal(err)
		}
		if p, err := waitJob(t, u); !errors.Is(err, ErrClosed) || p.State != UpgradeCancelled {
			t.Fatalf("%+v %v", p, err)
		}
	})
}

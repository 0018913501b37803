package command

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// PackageSize is the firmware package size of the 23/67 exchange.
const PackageSize = protocol.MaxPackageData

// Firmware job errors (Progress.Err / Upgrade.Wait; test with errors.Is).
var (
	ErrUpgradeRunning  = errors.New("command: an upgrade is already running for this vehicle")
	ErrImage           = errors.New("command: bad firmware image")
	ErrUpgradeRefused  = errors.New("command: vehicle refused the upgrade (66 s=1)")
	ErrUpgradeFailed   = errors.New("command: vehicle reported the upgrade failed (69 s=1)")
	ErrNoUpgradeResult = errors.New("command: no upgrade result (69) after the last package")
	ErrTooManyRestarts = errors.New("command: upgrade restarted too often")
	ErrVehicleGone     = errors.New("command: vehicle did not come back online")
)

// UpgradeState is a job's state.
type UpgradeState string

// Job states. Events carry running/succeeded/failed (link.FirmwareEvent);
// a cancelled job is reported there as failed.
const (
	UpgradeRunning   UpgradeState = "running"
	UpgradeSucceeded UpgradeState = "succeeded"
	UpgradeFailed    UpgradeState = "failed"
	UpgradeCancelled UpgradeState = "cancelled"
)

// UpgradeOptions tune a firmware job; zero values take the defaults shown.
type UpgradeOptions struct {
	JobID  string // default: random
	Source string // who started it, e.g. "fieldtech:x"; carried on its commands
	// MaxPackageFailures: the module reboots after more than this many failed
	// receptions (68 s=1) of one package (PROTOCOL.md: 5).
	MaxPackageFailures int
	// MaxRestarts: how often the upgrade may start over from 23 (after a module
	// reboot, a disconnect or a package that got no reply) before the job
	// fails with ErrTooManyRestarts. Default 3.
	MaxRestarts int
	// RestartDelay: pause before starting over, so a rebooting module has
	// dropped and re-established its connection. Default 10 s.
	RestartDelay time.Duration
	// ReconnectTimeout: how long to wait for an offline vehicle before a pass.
	// Default 5 min.
	ReconnectTimeout time.Duration
	// ResultTimeout: wait for the unsolicited 69 after the last package.
	// Default 2 min.
	ResultTimeout time.Duration
	// ProgressEvery: emit a running event every this many acknowledged
	// packages. Default: a tenth of the image (at least 1).
	ProgressEvery int
}

// Progress is a snapshot of a firmware job.
type Progress struct {
	JobID    string
	Vehicle  protocol.VehicleID
	State    UpgradeState
	Sent     int // packages acknowledged in the current pass
	Total    int // packages in the image
	Failures int // failed receptions (68 s=1) over all passes
	// PackageFailures counts failures of the package being sent now.
	PackageFailures int
	Restarts        int
	Err             error // why it failed or was cancelled
	Started         time.Time
	Updated         time.Time
}

// Upgrade is a running firmware job: 23 → 66, then every package 67 → 68
// (resending a package the module failed to take), then the module's 69.
// It runs in its own goroutine, owned by the Manager: it ends by itself, on
// Cancel, or on Manager.Close.
type Upgrade struct {
	m      *Manager
	veh    protocol.VehicleID
	image  []byte
	opts   UpgradeOptions
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}
	sig    chan struct{} // wakes the job: connectivity change or 69 arrived
	n      int           // commands sent, for ids

	mu      sync.Mutex // leaf lock: taken under Manager.mu by notify/deliverResult
	prog    Progress
	online  bool
	dropped bool            // went offline since the pass began
	result  protocol.Report // the 69, if it arrived
}

// StartUpgrade starts a firmware job sending image to v in PackageSize
// packages. At most one job runs per vehicle (ErrUpgradeRunning). The job's
// packages go through the manager's queue (registry QoS, matching by the
// package serial, timeouts and retries of the 67 policy) without
// command_result events; the job emits link.FirmwareEvent events instead: at
// the start, every ProgressEvery packages, at each restart and at the end.
func (m *Manager) StartUpgrade(v protocol.VehicleID, image []byte, opts UpgradeOptions) (*Upgrade, error) {
	if !v.Valid() {
		return nil, fmt.Errorf("command: start upgrade: %w: vehicle %q", ErrInvalid, v)
	}
	total := (len(image) + PackageSize - 1) / PackageSize
	if total == 0 || total > 65535 {
		return nil, fmt.Errorf("command: start upgrade: %w: %d bytes (1 to %d packages of %d bytes)", ErrImage, len(image), 65535, PackageSize)
	}
	if opts.JobID == "" {
		opts.JobID = "fw-" + newID()
	}
	if opts.MaxPackageFailures <= 0 {
		opts.MaxPackageFailures = 5
	}
	if opts.MaxRestarts <= 0 {
		opts.MaxRestarts = 3
	}
	if opts.RestartDelay <= 0 {
		opts.RestartDelay = 10 * time.Second
	}
	if opts.ReconnectTimeout <= 0 {
		opts.ReconnectTimeout = 5 * time.Minute
	}
	if opts.ResultTimeout <= 0 {
		opts.ResultTimeout = 2 * time.Minute
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = max(1, total/10)
	}
	now := m.clock.Now()
	u := &Upgrade{m: m, veh: v, image: append([]byte(nil), image...), opts: opts,
		done: make(chan struct{}), sig: make(chan struct{}, 1),
		prog: Progress{JobID: opts.JobID, Vehicle: v, State: UpgradeRunning, Total: total, Started: now, Updated: now}}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("command: start upgrade: %w", ErrClosed)
	}
	veh := m.vehicle(v)
	if veh.job != nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("command: start upgrade %s: %w", v, ErrUpgradeRunning)
	}
	veh.job = u
	u.online = veh.online
	m.upgrades++
	u.ctx, u.cancel = context.WithCancelCause(m.ctx)
	m.wg.Add(1)
	m.mu.Unlock()
	go u.run()
	return u, nil
}

// Progress returns the job's current state; safe while it runs.
func (u *Upgrade) Progress() Progress {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.prog
}

// Done is closed when the job has ended.
func (u *Upgrade) Done() <-chan struct{} { return u.done }

// Wait blocks until the job ends (its final Progress and Err) or ctx ends
// (the current Progress and ctx's error; the job keeps running).
func (u *Upgrade) Wait(ctx context.Context) (Progress, error) {
	select {
	case <-u.done:
		p := u.Progress()
		return p, p.Err
	case <-ctx.Done():
		return u.Progress(), ctx.Err()
	}
}

// Cancel stops the job (state cancelled); the package in flight is
// abandoned. No effect once the job has ended.
func (u *Upgrade) Cancel() { u.cancelWith(ErrCancelled) }

func (u *Upgrade) cancelWith(err error) { u.cancel(err) }

// notify and deliverResult are called by the Manager under its lock.
func (u *Upgrade) notify(online bool) {
	u.mu.Lock()
	u.online = online
	if !online {
		u.dropped = true
	}
	u.mu.Unlock()
	u.wake()
}

func (u *Upgrade) deliverResult(r protocol.Report) {
	u.mu.Lock()
	u.result = r
	u.mu.Unlock()
	u.wake()
}

func (u *Upgrade) wake() {
	select {
	case u.sig <- struct{}{}:
	default:
	}
}

func (u *Upgrade) update(f func(p *Progress)) Progress {
	u.mu.Lock()
	defer u.mu.Unlock()
	f(&u.prog)
	u.prog.Updated = u.m.clock.Now()
	return u.prog
}

func (u *Upgrade) emit(p Progress) {
	if u.m.sink == nil {
		return
	}
	state := p.State
	if state == UpgradeCancelled {
		state = UpgradeFailed
	}
	u.m.sink.Emit(link.Event{Vehicle: string(u.veh), Time: p.Updated, Kind: link.EventFirmware,
		Firmware: &link.FirmwareEvent{JobID: p.JobID, Sent: p.Sent, Total: p.Total, Failures: p.Failures, State: string(state)}})
}

// restartError asks the job to start over from 23.
type restartError struct{ cause error }

func (e *restartError) Error() string { return "restart: " + e.cause.Error() }
func (e *restartError) Unwrap() error { return e.cause }

func restart(format string, args ...any) error {
	return &restartError{cause: fmt.Errorf(format, args...)}
}

func (u *Upgrade) run() {
	defer u.m.wg.Done()
	u.emit(u.Progress())
	err := u.loop()
	state := UpgradeSucceeded
	switch {
	case errors.Is(err, ErrCancelled), errors.Is(err, ErrClosed):
		state = UpgradeCancelled
	case err != nil:
		state = UpgradeFailed
	}
	// Leave the manager first, so that a new job may start once Done is closed.
	u.m.mu.Lock()
	if veh := u.m.vehicles[u.veh]; veh != nil && veh.job == u {
		veh.job = nil
		u.m.forget(veh)
	}
	u.m.upgrades--
	u.m.mu.Unlock()
	p := u.update(func(p *Progress) { p.State, p.Err = state, err })
	u.m.log.Info("firmware upgrade ended", "vehicle", u.veh, "job", p.JobID, "state", string(state),
		"sent", p.Sent, "total", p.Total, "failures", p.Failures, "restarts", p.Restarts, "err", err)
	u.emit(p)
	u.cancel(nil)
	close(u.done)
}

func (u *Upgrade) loop() error {
	for {
		if err := u.waitOnline(); err != nil {
			return err
		}
		err := u.pass()
		var rs *restartError
		if !errors.As(err, &rs) {
			return err
		}
		p := u.update(func(p *Progress) { p.Restarts++; p.Sent = 0; p.PackageFailures = 0 })
		u.m.log.Info("firmware upgrade restarts", "vehicle", u.veh, "job", p.JobID, "restarts", p.Restarts, "cause", rs.cause)
		if p.Restarts > u.opts.MaxRestarts {
			return fmt.Errorf("%w (%d): last: %w", ErrTooManyRestarts, u.opts.MaxRestarts, rs.cause)
		}
		u.emit(p)
		if err := u.sleep(u.opts.RestartDelay); err != nil {
			return err
		}
	}
}

// after returns a channel closed when d has elapsed on the manager's clock.
func (u *Upgrade) after(d time.Duration) (<-chan struct{}, Timer) {
	ch := make(chan struct{})
	return ch, u.m.clock.AfterFunc(d, func() { close(ch) })
}

func (u *Upgrade) sleep(d time.Duration) error {
	ch, t := u.after(d)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-u.ctx.Done():
		return context.Cause(u.ctx)
	}
}

func (u *Upgrade) waitOnline() error {
	ch, t := u.after(u.opts.ReconnectTimeout)
	defer t.Stop()
	for {
		u.mu.Lock()
		online := u.online
		u.mu.Unlock()
		if online {
			return nil
		}
		select {
		case <-u.sig:
		case <-ch:
			return fmt.Errorf("%w within %s", ErrVehicleGone, u.opts.ReconnectTimeout)
		case <-u.ctx.Done():
			return context.Cause(u.ctx)
		}
	}
}

// exchange sends one command of the job and waits for its outcome. A
// disconnect while waiting abandons it and asks for a restart: the module may
// have rebooted, and its upgrade state is then unknown.
func (u *Upgrade) exchange(cmd protocol.Command) (Result, error) {
	u.n++
	p := u.m.Send(u.ctx, u.veh, cmd, Options{Source: u.opts.Source, ID: fmt.Sprintf("%s-%d", u.opts.JobID, u.n), NoEvent: true})
	for {
		select {
		case <-p.Done():
			if err := context.Cause(u.ctx); err != nil {
				return Result{}, err // cancelled or closing: do not read this as a module failure
			}
			r, _ := p.Result()
			return r, nil
		case <-u.ctx.Done():
			p.Cancel()
			return Result{}, context.Cause(u.ctx)
		case <-u.sig:
			u.mu.Lock()
			dropped := u.dropped
			u.mu.Unlock()
			if dropped {
				p.Cancel()
				return Result{}, restart("vehicle disconnected during %s", cmd.Code())
			}
		}
	}
}

func (u *Upgrade) chunk(x int) []byte {
	return u.image[x*PackageSize : min((x+1)*PackageSize, len(u.image))]
}

// pass runs the exchange once from 23 to 69.
func (u *Upgrade) pass() error {
	u.mu.Lock()
	u.dropped, u.result = false, nil
	total := u.prog.Total
	u.mu.Unlock()

	start, err := protocol.NewStartUpgrade(total)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrImage, err)
	}
	res, err := u.exchange(start)
	if err != nil {
		return err
	}
	switch res.Outcome {
	case link.OutcomeAcked:
	case link.OutcomeFailed:
		return fmt.Errorf("%w: %w", ErrUpgradeRefused, res.Err)
	case link.OutcomeTimeout, link.OutcomeExpired:
		return restart("start upgrade: %w", res.Err)
	default:
		return fmt.Errorf("command: start upgrade: %w", res.Err)
	}

	pkgFail := 0
	for x := 0; x < total; {
		pkg, err := protocol.NewFirmwarePackage(x, u.chunk(x))
		if err != nil {
			return fmt.Errorf("%w: package %d: %w", ErrImage, x, err)
		}
		res, err := u.exchange(pkg)
		if err != nil {
			return err
		}
		switch res.Outcome {
		case link.OutcomeAcked:
			x++
			pkgFail = 0
			p := u.update(func(p *Progress) { p.Sent = x; p.PackageFailures = 0 })
			if x%u.opts.ProgressEvery == 0 && x < total {
				u.emit(p)
			}
		case link.OutcomeFailed:
			pkgFail++
			u.update(func(p *Progress) { p.Failures++; p.PackageFailures = pkgFail })
			if pkgFail > u.opts.MaxPackageFailures {
				return restart("module rebooted after %d failures of package %d", pkgFail, x)
			}
		case link.OutcomeTimeout, link.OutcomeExpired:
			if pkgFail >= u.opts.MaxPackageFailures {
				return restart("package %d: no reply after %d failures (module rebooted): %w", x, pkgFail, res.Err)
			}
			return restart("package %d: %w", x, res.Err)
		default:
			return fmt.Errorf("command: package %d: %w", x, res.Err)
		}
	}
	return u.awaitResult()
}

// awaitResult waits for the module's 69. A disconnect here is expected (the
// module may reboot into the new firmware) and does not restart the job.
func (u *Upgrade) awaitResult() error {
	ch, t := u.after(u.opts.ResultTimeout)
	defer t.Stop()
	for {
		u.mu.Lock()
		r := u.result
		u.mu.Unlock()
		if r != nil {
			if st, ok := replyStatus(r); ok && st != protocol.StatusOK {
				return fmt.Errorf("%w: status %d", ErrUpgradeFailed, st)
			}
			return nil
		}
		select {
		case <-u.sig:
		case <-ch:
			return fmt.Errorf("%w within %s", ErrNoUpgradeResult, u.opts.ResultTimeout)
		case <-u.ctx.Done():
			return context.Cause(u.ctx)
		}
	}
}

package command

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Errors carried in Result.Err (test with errors.Is).
var (
	// ErrFailed: the vehicle replied with a failure status (*StatusError).
	ErrFailed = errors.New("command: vehicle reported failure")
	// ErrTimeout: no reply within the timeout after all attempts.
	ErrTimeout = errors.New("command: no reply")
	// ErrExpired: the command could not be published before its expiry.
	ErrExpired = errors.New("command: expired before it could be sent")
	// ErrSuperseded: a newer command of the same group replaced it.
	ErrSuperseded = errors.New("command: superseded by a newer command")
	// ErrCancelled: the caller withdrew the command (Pending.Cancel or Send's ctx).
	ErrCancelled = errors.New("command: cancelled")
	// ErrClosed: the manager is closed (or closed while the command was open).
	ErrClosed = errors.New("command: manager closed")
	// ErrInvalid: the command or vehicle failed validation; never sent.
	ErrInvalid = errors.New("command: invalid")
	// ErrUnknownVehicle: Config.KnownVehicle does not know the vehicle.
	ErrUnknownVehicle = errors.New("command: unknown vehicle")
	// ErrQueueFull: the vehicle already has Config.MaxQueuedPerVehicle commands open.
	ErrQueueFull = errors.New("command: vehicle queue full")
	// ErrPublish: the broker refused the publish.
	ErrPublish = errors.New("command: publish failed")
)

// StatusError is a reply whose "s" reports a failure (1 fault, 2 upgrading,
// 3 too late, …). errors.Is(err, ErrFailed) holds.
type StatusError struct {
	Reply  protocol.Code
	Status protocol.Status
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("command: vehicle replied %d with status %d", e.Reply, e.Status)
}

// Is makes errors.Is(err, ErrFailed) true.
func (e *StatusError) Is(target error) bool { return target == ErrFailed }

// Result is a command's final outcome. The embedded link.CommandResult is
// exactly what the command_result event carries.
type Result struct {
	link.CommandResult
	// Err is nil when the outcome is acked; otherwise it wraps one of the
	// errors above (or a *protocol.ValidationError for rejected input).
	Err error
	// Report is the matched reply, when there was one (CommandResult.Reply
	// holds it as JSON).
	Report protocol.Report
	// Accepted is when Send took the command, FirstSent its first publish
	// (zero if never published), Done when the outcome was decided.
	Accepted, FirstSent, Done time.Time
}

// Pending is a command in progress. Wait for it, poll it, or drop it (fire and
// forget): the command runs to its outcome either way.
type Pending struct {
	id   string
	done chan struct{}
	res  Result // written once, before done is closed
	m    *Manager
	e    *entry // nil once finished or for commands rejected at Send
}

// ID returns the command's id (Options.ID or a generated one).
func (p *Pending) ID() string { return p.id }

// Done is closed once the outcome is known.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Result returns the outcome if it is known.
func (p *Pending) Result() (Result, bool) {
	select {
	case <-p.done:
		return p.res, true
	default:
		return Result{}, false
	}
}

// Wait blocks until the outcome is known or ctx ends. When ctx ends first the
// command keeps running (its outcome still becomes an event) and ctx's error
// is returned.
func (p *Pending) Wait(ctx context.Context) (Result, error) {
	if r, ok := p.Result(); ok { // a known outcome wins over an ended ctx
		return r, nil
	}
	select {
	case <-p.done:
		return p.res, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Cancel withdraws the command: it is not (re-)published any more and ends at
// once with ErrCancelled — OutcomeRejected if it was never published,
// OutcomeTimeout if it was (the vehicle may have acted on it; a later reply
// counts as unmatched). No effect once the outcome is known.
func (p *Pending) Cancel() {
	if p.m != nil {
		p.m.cancel(p, ErrCancelled, false)
	}
}

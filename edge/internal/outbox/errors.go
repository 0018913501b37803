package outbox

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by every operation after Close.
	ErrClosed = errors.New("outbox closed")
	// ErrInvalidRecord means a field of the record is not acceptable.
	ErrInvalidRecord = errors.New("invalid record")
	// ErrRecordTooLarge means the payload exceeds Options.MaxPayload.
	ErrRecordTooLarge = errors.New("record too large")
	// ErrQueueFull is returned by AppendAsync when Options.MaxPending
	// requests are already waiting for the committer.
	ErrQueueFull = errors.New("outbox queue full")
	// ErrFull is returned for an event when Options.MaxEventBytes is set and
	// the stored events already fill it. Nothing stored is ever dropped to
	// make room for it; the caller must not acknowledge the record upstream.
	ErrFull = errors.New("outbox full of events")
	// ErrCorrupt matches a *CorruptRecordError with errors.Is.
	ErrCorrupt = errors.New("corrupt outbox record")
)

// CorruptRecordError reports a stored value that does not decode. The uplink
// can skip it with Delete(ctx, Seq).
type CorruptRecordError struct {
	Seq    uint64
	Reason string
}

func (e *CorruptRecordError) Error() string {
	return fmt.Sprintf("corrupt outbox record seq %d: %s", e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptRecordError) Is(target error) bool { return target == ErrCorrupt }

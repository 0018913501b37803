package link

import (
	"encoding/json"
	"fmt"
	"time"
)

// CommandRequest asks a city's gateway to send one protocol command to a vehicle
// (request/reply on CommandSubject). Fields are the command's own fields by their
// wire key (e.g. {"k": 2020} for code 13), validated by the gateway against the
// protocol registry before anything is sent.
type CommandRequest struct {
	V       int                        `json:"v"`
	ID      string                     `json:"id"` // caller's id, echoed in the result and its event
	Vehicle string                     `json:"vehicle"`
	Code    int                        `json:"code"`
	Fields  map[string]json.RawMessage `json:"fields,omitempty"`
	// Source says who asked: "ride", "admin:<id>", "rule", "fieldtech:<id>".
	Source string `json:"source"`
	// Timeout bounds the wait for the scooter's reply; zero means the gateway's default.
	TimeoutMs int `json:"timeout_ms,omitempty"`
	// Expires, when set, lets the command wait for an offline vehicle until then.
	Expires time.Time `json:"expires,omitzero"`
}

// Validate checks the request's shape; the command itself is checked by the gateway
// against the protocol registry.
func (r *CommandRequest) Validate() error {
	switch {
	case r.V != Version:
		return fmt.Errorf("%w: v=%d, want %d", ErrVersion, r.V, Version)
	case r.ID == "" || len(r.ID) > 128:
		return fmt.Errorf("%w: command id must be 1-128 bytes", ErrInvalid)
	case r.Vehicle == "":
		return fmt.Errorf("%w: command without vehicle", ErrInvalid)
	case r.Code <= 0 || r.Code > 255:
		return fmt.Errorf("%w: command code %d out of range", ErrInvalid, r.Code)
	case r.TimeoutMs < 0 || r.TimeoutMs > 600_000:
		return fmt.Errorf("%w: timeout_ms %d out of range 0-600000", ErrInvalid, r.TimeoutMs)
	}
	return nil
}

// Outcome is how a command ended.
type Outcome string

const (
	OutcomeAcked    Outcome = "acked"    // the scooter replied with success (s=0) or the command has no reply and was sent
	OutcomeFailed   Outcome = "failed"   // the scooter replied with a failure status
	OutcomeTimeout  Outcome = "timeout"  // no reply within the timeout after all retries
	OutcomeRejected Outcome = "rejected" // invalid for the registry, unknown vehicle, …; never sent
	OutcomeExpired  Outcome = "expired"  // the vehicle stayed offline until Expires
)

// CommandResult is the gateway's answer to a CommandRequest, and the payload of an
// EventCommand event (every outcome becomes an event, whoever asked).
type CommandResult struct {
	V         int             `json:"v"`
	ID        string          `json:"id"`
	Vehicle   string          `json:"vehicle"`
	Code      int             `json:"code"`
	Source    string          `json:"source,omitempty"`
	Outcome   Outcome         `json:"outcome"`
	ReplyCode int             `json:"reply_code,omitempty"`
	Status    *int            `json:"status,omitempty"` // the reply's s, when it has one
	Reply     json.RawMessage `json:"reply,omitempty"`  // the decoded reply as JSON
	Error     string          `json:"error,omitempty"`
	Attempts  int             `json:"attempts,omitempty"`
	LatencyMs float64         `json:"latency_ms,omitempty"`
}

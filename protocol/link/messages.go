package link

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrVersion reports a message whose schema version this build does not understand.
var ErrVersion = errors.New("link: unsupported message version")

// ErrInvalid reports a message that decoded but breaks the contract (missing
// identity, records out of order, a kind without its payload, …).
var ErrInvalid = errors.New("link: invalid message")

// Header is carried by every batch sent up.
type Header struct {
	V       int       `json:"v"`
	Gateway GatewayID `json:"gateway"`
	City    CityID    `json:"city"`
}

func (h Header) check() error {
	if h.V != Version {
		return fmt.Errorf("%w: v=%d, want %d", ErrVersion, h.V, Version)
	}
	if err := checkToken(string(h.Gateway)); err != nil {
		return fmt.Errorf("%w: gateway: %v", ErrInvalid, err)
	}
	if err := checkToken(string(h.City)); err != nil {
		return fmt.Errorf("%w: city: %v", ErrInvalid, err)
	}
	return nil
}

// Position is a GPS (or cell-tower) fix in decimal degrees, WGS84.
type Position struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
	// LBS is true when the fix comes from cell towers, not satellites (coarse).
	LBS bool `json:"lbs,omitempty"`
	// Alarm is the scooter's business_type=1 flag on the fix.
	Alarm bool `json:"alarm,omitempty"`
	// FixTime is the scooter's GPS time, when it sent one.
	FixTime time.Time `json:"fix_time,omitzero"`
}

// Status is the vehicle's state flags as last reported.
type Status struct {
	Powered   bool `json:"powered"`
	Paused    bool `json:"paused"`
	Fallen    bool `json:"fallen"`
	AtStation bool `json:"at_station"`
	// ErrorCode is the controller fault (PROTOCOL.md, code 16 field e); 0 = none.
	ErrorCode int `json:"error_code"`
}

// Telemetry is one downsampled telemetry record. The gateway forwards each group
// of fields at its own cadence, so every group is optional: a nil pointer means
// "not in this record", never zero.
type Telemetry struct {
	Seq     uint64    `json:"seq"`
	Vehicle string    `json:"vehicle"`
	Time    time.Time `json:"time"` // when the gateway received the report

	Position   *Position `json:"position,omitempty"`
	SpeedKmh   *float64  `json:"speed_kmh,omitempty"`
	BatteryPct *int      `json:"battery_pct,omitempty"`
	VoltageV   *float64  `json:"voltage_v,omitempty"`
	Signal     *int      `json:"signal,omitempty"`
	Status     *Status   `json:"status,omitempty"`
}

// EventKind names what happened. Kinds are append-only: a receiver that meets an
// unknown kind stores it raw rather than failing the batch.
type EventKind string

const (
	EventRideStarted  EventKind = "ride_started"
	EventRideEnded    EventKind = "ride_ended"
	EventRidePaused   EventKind = "ride_paused"
	EventRideResumed  EventKind = "ride_resumed"
	EventAlarm        EventKind = "alarm"
	EventCommand      EventKind = "command_result"
	EventStateChanged EventKind = "state_changed"
	EventSecurity     EventKind = "security"
	EventFirmware     EventKind = "firmware"
)

// Event is one event record. Exactly the payload field matching Kind is set.
// Events are never downsampled or dropped by the gateway.
type Event struct {
	Seq     uint64    `json:"seq"`
	Vehicle string    `json:"vehicle"`
	Time    time.Time `json:"time"`
	Kind    EventKind `json:"kind"`

	Ride     *RideEvent     `json:"ride,omitempty"`
	Alarm    *AlarmEvent    `json:"alarm,omitempty"`
	Command  *CommandResult `json:"command,omitempty"`
	State    *StateEvent    `json:"state,omitempty"`
	Security *SecurityEvent `json:"security,omitempty"`
	Firmware *FirmwareEvent `json:"firmware,omitempty"`
}

// RideEvent is a ride's start, pause, resume or end as seen by the gateway.
type RideEvent struct {
	RideID   string    `json:"ride_id"`
	Position *Position `json:"position,omitempty"`
	// EndedBy says who ended the ride ("cloud", "gateway" when the cloud was
	// unreachable, "suspension", …); set on ride_ended.
	EndedBy string `json:"ended_by,omitempty"`
}

// AlarmEvent is an alarm raised by the vehicle or by a rule.
type AlarmEvent struct {
	Reason   string    `json:"reason"` // e.g. "fallen", "vibration", "no_ride_zone", "left_operating_area"
	ZoneID   string    `json:"zone_id,omitempty"`
	Position *Position `json:"position,omitempty"`
}

// StateEvent is a change of connectivity or power state.
type StateEvent struct {
	From string `json:"from"`
	To   string `json:"to"` // "online", "offline", "lost", "powered_on", "powered_off", …
}

// SecurityEvent records a rejected action, e.g. a scooter publishing as another.
type SecurityEvent struct {
	Reason   string `json:"reason"`
	ClientID string `json:"client_id,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// FirmwareEvent reports a firmware upgrade job's progress or outcome.
type FirmwareEvent struct {
	JobID    string `json:"job_id"`
	Sent     int    `json:"sent"`  // packages acknowledged
	Total    int    `json:"total"` // packages in the image
	Failures int    `json:"failures"`
	State    string `json:"state"` // "running", "succeeded", "failed"
}

// TelemetryBatch is the body of a message on TelemetrySubject.
type TelemetryBatch struct {
	Header
	Records []Telemetry `json:"records"`
}

// EventBatch is the body of a message on EventsSubject.
type EventBatch struct {
	Header
	Events []Event `json:"events"`
}

// SeqRange returns the first and last seq of the batch (for MsgID).
func (b *TelemetryBatch) SeqRange() (first, last uint64) {
	if len(b.Records) == 0 {
		return 0, 0
	}
	return b.Records[0].Seq, b.Records[len(b.Records)-1].Seq
}

// SeqRange returns the first and last seq of the batch (for MsgID).
func (b *EventBatch) SeqRange() (first, last uint64) {
	if len(b.Events) == 0 {
		return 0, 0
	}
	return b.Events[0].Seq, b.Events[len(b.Events)-1].Seq
}

// Validate checks the contract: a known version, valid ids, at least one record,
// strictly increasing seqs, and an identity on every record.
func (b *TelemetryBatch) Validate() error {
	if err := b.check(); err != nil {
		return err
	}
	if len(b.Records) == 0 {
		return fmt.Errorf("%w: empty telemetry batch", ErrInvalid)
	}
	var prev uint64
	for i, r := range b.Records {
		if err := checkRecord(i, r.Seq, prev, r.Vehicle, r.Time); err != nil {
			return err
		}
		prev = r.Seq
	}
	return nil
}

// Validate checks the contract like TelemetryBatch.Validate, and that each event's
// payload matches its kind (unknown kinds pass: they are stored raw).
func (b *EventBatch) Validate() error {
	if err := b.check(); err != nil {
		return err
	}
	if len(b.Events) == 0 {
		return fmt.Errorf("%w: empty event batch", ErrInvalid)
	}
	var prev uint64
	for i, e := range b.Events {
		if err := checkRecord(i, e.Seq, prev, e.Vehicle, e.Time); err != nil {
			return err
		}
		prev = e.Seq
		if e.Kind == "" {
			return fmt.Errorf("%w: record %d: event without kind", ErrInvalid, i)
		}
		if !e.payloadMatchesKind() {
			return fmt.Errorf("%w: record %d: kind %q without its payload", ErrInvalid, i, e.Kind)
		}
	}
	return nil
}

func checkRecord(i int, seq, prev uint64, vehicle string, t time.Time) error {
	switch {
	case seq == 0:
		return fmt.Errorf("%w: record %d: seq 0", ErrInvalid, i)
	case seq <= prev:
		return fmt.Errorf("%w: record %d: seq %d not above %d", ErrInvalid, i, seq, prev)
	case seq > math.MaxInt64:
		// Stores keep seqs as signed 64-bit integers (PostgreSQL bigint).
		return fmt.Errorf("%w: record %d: seq %d above 2^63-1", ErrInvalid, i, seq)
	case vehicle == "":
		return fmt.Errorf("%w: record %d: no vehicle", ErrInvalid, i)
	case t.IsZero():
		return fmt.Errorf("%w: record %d: no time", ErrInvalid, i)
	}
	return nil
}

func (e *Event) payloadMatchesKind() bool {
	switch e.Kind {
	case EventRideStarted, EventRideEnded, EventRidePaused, EventRideResumed:
		return e.Ride != nil
	case EventAlarm:
		return e.Alarm != nil
	case EventCommand:
		return e.Command != nil
	case EventStateChanged:
		return e.State != nil
	case EventSecurity:
		return e.Security != nil
	case EventFirmware:
		return e.Firmware != nil
	}
	return true
}

// DecodeTelemetryBatch parses and validates a TelemetryBatch.
func DecodeTelemetryBatch(data []byte) (*TelemetryBatch, error) {
	var b TelemetryBatch
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%w: telemetry batch: %v", ErrInvalid, err)
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return &b, nil
}

// DecodeEventBatch parses and validates an EventBatch.
func DecodeEventBatch(data []byte) (*EventBatch, error) {
	var b EventBatch
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%w: event batch: %v", ErrInvalid, err)
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return &b, nil
}

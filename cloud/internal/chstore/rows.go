package chstore

import (
	"encoding/json"
	"math"
	"time"
	"unicode/utf8"
)

// TelemetryRow is one downsampled telemetry record of a vehicle as stored in ClickHouse.
// (Gateway, Seq) identifies the record: a second row with the same pair is a redelivery.
type TelemetryRow struct {
	City    string
	Gateway string
	Seq     uint64 // gateway-local sequence of the record
	Vehicle string
	Time    time.Time // stored to the millisecond (time + ms columns), UTC

	Lat, Lon      float64 // WGS84 degrees
	SpeedKmh      float32
	SpeedLimitKmh uint8
	BatteryPct    uint8 // 0–100
	VoltageV      float32
	Signal        uint8 // 4G signal level as reported
	Powered       bool
	Locked        bool
	Paused        bool
	Fallen        bool
	AtStation     bool
	ErrorCode     uint16 // protocol error code `e`, 0 = no fault
}

// EventRow is one vehicle event (alarm, ride event, state change…).
type EventRow struct {
	City    string
	Gateway string
	Seq     uint64
	Vehicle string
	Time    time.Time

	Kind    string // e.g. "ride_start", "fallen", "low_battery"
	Code    uint16 // protocol code behind the event, 0 when none
	Details string // JSON object; empty means {}
}

// CommandRow is one command sent to a vehicle and its outcome.
type CommandRow struct {
	City    string
	Gateway string
	Seq     uint64
	Vehicle string
	Time    time.Time // when the command was issued

	Command     uint16 // protocol command code
	Fields      string // JSON object of the command's fields; empty means {}
	Outcome     string // e.g. "acked", "failed", "timeout"
	ReplyCode   uint16 // protocol code of the reply, 0 when none arrived
	ReplyStatus int16  // the reply's `s` status, -1 when none
	LatencyMs   uint32 // issue → reply (or → timeout)
	Source      string // who asked: "admin:<id>", "rule:<zone>", "rider:<id>"…
}

// maxIdentLen bounds city, gateway and vehicle identifiers.
const maxIdentLen = 128

// DateTime is UInt32 seconds since the epoch.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Unix(math.MaxUint32, 0).UTC()
)

type validator struct {
	table string
	index int
	err   *RowError
}

func (v *validator) fail(field, reason string) {
	if v.err == nil {
		v.err = &RowError{Table: v.table, Index: v.index, Field: field, Reason: reason}
	}
}

func (v *validator) ident(field, s string) {
	switch {
	case s == "":
		v.fail(field, "empty")
	case len(s) > maxIdentLen:
		v.fail(field, "longer than 128 bytes")
	case !utf8.ValidString(s):
		v.fail(field, "not UTF-8")
	}
}

func (v *validator) time(t time.Time) {
	if t.IsZero() || t.Before(minTime) || !t.Before(maxTime) {
		v.fail("Time", "outside 1970-01-01…2106-02-07 (ClickHouse DateTime)")
	}
}

func (v *validator) json(field, s string) {
	if s != "" && !json.Valid([]byte(s)) {
		v.fail(field, "not valid JSON")
	}
}

func (v *validator) text(field, s string) {
	if !utf8.ValidString(s) {
		v.fail(field, "not UTF-8")
	}
}

func (v *validator) key(city, gateway, vehicle string, t time.Time) {
	v.ident("City", city)
	v.ident("Gateway", gateway)
	v.ident("Vehicle", vehicle)
	v.time(t)
}

func validateTelemetry(i int, r *TelemetryRow) error {
	v := validator{table: "telemetry", index: i}
	v.key(r.City, r.Gateway, r.Vehicle, r.Time)
	if math.IsNaN(r.Lat) || r.Lat < -90 || r.Lat > 90 {
		v.fail("Lat", "outside -90…90")
	}
	if math.IsNaN(r.Lon) || r.Lon < -180 || r.Lon > 180 {
		v.fail("Lon", "outside -180…180")
	}
	if !finite32(r.SpeedKmh) || r.SpeedKmh < 0 {
		v.fail("SpeedKmh", "negative or not finite")
	}
	if r.BatteryPct > 100 {
		v.fail("BatteryPct", "above 100")
	}
	if !finite32(r.VoltageV) || r.VoltageV < 0 {
		v.fail("VoltageV", "negative or not finite")
	}
	return v.result()
}

func validateEvent(i int, r *EventRow) error {
	v := validator{table: "events", index: i}
	v.key(r.City, r.Gateway, r.Vehicle, r.Time)
	v.ident("Kind", r.Kind)
	v.json("Details", r.Details)
	return v.result()
}

func validateCommand(i int, r *CommandRow) error {
	v := validator{table: "commands", index: i}
	v.key(r.City, r.Gateway, r.Vehicle, r.Time)
	v.json("Fields", r.Fields)
	v.ident("Outcome", r.Outcome)
	v.text("Source", r.Source)
	return v.result()
}

// result returns a nil error interface when the row is valid (never a typed nil).
func (v *validator) result() error {
	if v.err == nil {
		return nil
	}
	return v.err
}

func finite32(f float32) bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}

func orEmptyObject(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// splitTime returns the UTC second and the milliseconds within it.
func splitTime(t time.Time) (time.Time, uint16) {
	t = t.UTC()
	return t.Truncate(time.Second), uint16(t.Nanosecond() / int(time.Millisecond))
}

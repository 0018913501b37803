package fleet

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
)

// State is a vehicle's connectivity.
type State uint8

const (
	// StateOffline: not connected to the broker (or never seen).
	StateOffline State = iota
	// StateOnline: connected, or a message arrived since the last disconnect.
	StateOnline
	// StateLost: nothing heard (no message, no connection) for Options.LostAfter.
	StateLost
	numStates
)

var stateNames = [numStates]string{"offline", "online", "lost"}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// ErrState reports a state name that is not offline, online or lost.
var ErrState = errors.New("fleet: unknown vehicle state")

// ParseState parses "offline", "online" or "lost".
func ParseState(s string) (State, error) {
	for i, n := range stateNames {
		if n == s {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want offline, online or lost)", ErrState, s)
}

// Field says which values of a Vehicle have been reported at least once;
// a value whose bit is not set holds its zero value and means "unknown".
type Field uint32

// Reported values.
const (
	FieldPosition Field = 1 << iota
	FieldSpeed
	FieldSpeedLimit
	FieldBattery
	FieldVoltage
	FieldPower
	FieldLock
	FieldChainLock
	FieldPause
	FieldPosture
	FieldStation
	FieldSignal
	FieldError
	FieldVersion // hardware / firmware / SIM
	FieldIMEI
)

// Has reports whether every bit of g is set in f.
func (f Field) Has(g Field) bool { return f&g == g }

// Position is the last fix.
type Position struct {
	Lat float64 // decimal degrees, WGS84
	Lon float64
	// LBS is true for a cell-tower fix (location_type 1): coarse.
	LBS bool
	// Alarm is the scooter's business_type 1 on the fix.
	Alarm bool
	// FixTime is the scooter's GPS time ("t"); zero when it sent none.
	FixTime time.Time
	// Received is the gateway time the fix arrived.
	Received time.Time
}

// Vehicle is the live state of one vehicle. Values returned by the Fleet are
// copies.
type Vehicle struct {
	ID    protocol.VehicleID
	State State
	// StateSince is when State last changed.
	StateSince time.Time
	// Known lists the values below that have been reported.
	Known Field

	Position      Position
	SpeedKmh      float64 // from 16 p
	SpeedLimitKmh int     // from 16 k
	BatteryPct    int     // 27 b / 16 b
	VoltageV      float64 // 27 r / 55 r
	Powered       bool    // 27 c / 16 c / 22 s / acks of 1 and 3
	Locked        bool    // motor lock: acks of 107 (locked) and 105 (unlocked)
	ChainOpen     bool    // 84 s / ack of 71
	Paused        bool    // acks of 73 and 75
	Fallen        bool    // 27 s while powered on / 55 s
	AtStation     bool    // 27 x == 1
	Signal        int     // 98 x
	ErrorCode     int     // 16 e
	Hardware      string  // 22 h
	Firmware      string  // 22 f
	SIM           string  // 22 c
	IMEI          string  // 22 m / 25 h

	// LastSeen is the gateway time of the last message or connection.
	LastSeen time.Time
	// LastVibration is when the vehicle last reported vibration (57/88).
	LastVibration time.Time
	// ConnectedAt is when the current (or last) connection was established.
	ConnectedAt time.Time
	// Messages counts the reports applied since the gateway started.
	Messages uint64
}

// ErrorText returns the words for the vehicle's controller error code.
func (v *Vehicle) ErrorText() string { return ErrorText(v.ErrorCode) }

// errorTexts are the controller error codes of PROTOCOL.md (code 16, field e).
var errorTexts = map[int]string{
	0:  "no fault",
	1:  "motor hall sensor fault",
	2:  "throttle fault",
	4:  "motor stalled",
	5:  "over-current",
	6:  "motor over-temperature",
	7:  "controller over-temperature",
	8:  "battery under-voltage",
	9:  "battery over-voltage",
	10: "communication failure",
}

// ErrorText returns the words for a controller error code of PROTOCOL.md,
// or "unknown error N".
func ErrorText(code int) string {
	if s, ok := errorTexts[code]; ok {
		return s
	}
	return "unknown error " + strconv.Itoa(code)
}

// Change is a set of things an update changed.
type Change uint32

// Changes reported by Apply, Connect, Disconnect and Sweep.
const (
	ChangeFirstSeen      Change = 1 << iota // the Fleet had no state for the vehicle
	ChangeFix                               // a new position arrived (19)
	ChangePoweredOn                         // off (or unknown) → on
	ChangePoweredOff                        // on (or unknown) → off
	ChangeFell                              // upright (or unknown) → fallen
	ChangeUpright                           // fallen → upright
	ChangeArrivedStation                    // → at a charging station
	ChangeLeftStation                       // at a station → not
	ChangeLocked                            // motor locked
	ChangeUnlocked                          // motor unlocked
	ChangePaused                            // pause mode entered
	ChangeResumed                           // pause mode left
	ChangeError                             // controller error code changed
	ChangeBattery                           // battery % changed
	ChangeVibration                         // vibration reported (57, 88)
	ChangeVersion                           // hardware/firmware/SIM changed
	ChangeOnline                            // State → online
	ChangeOffline                           // State → offline
	ChangeLost                              // State → lost
	numChanges           = iota
)

var changeNames = [numChanges]string{
	"first_seen", "fix", "powered_on", "powered_off", "fell", "upright", "arrived_station",
	"left_station", "locked", "unlocked", "paused", "resumed", "error", "battery", "vibration",
	"version", "online", "offline", "lost",
}

// Has reports whether any bit of d is set in c.
func (c Change) Has(d Change) bool { return c&d != 0 }

// Names lists the changes, in bit order.
func (c Change) Names() []string {
	out := make([]string, 0, bits.OnesCount32(uint32(c)))
	for i := range numChanges {
		if c&(1<<i) != 0 {
			out = append(out, changeNames[i])
		}
	}
	return out
}

func (c Change) String() string { return strings.Join(c.Names(), ",") }

// Update is the result of one state transition.
type Update struct {
	// Vehicle is the state after the update.
	Vehicle Vehicle
	// Changes says what the update changed; 0 if nothing worth reacting to.
	Changes Change
	// PrevState is the connectivity before the update.
	PrevState State
}

// apply folds r into v and returns what changed. now is the receive time.
func (v *Vehicle) apply(r protocol.Report, now time.Time) Change {
	mask := r.Fields()
	has := func(k byte) bool { return mask == 0 || mask.Has(k) }
	var ch Change
	switch m := r.(type) {
	case *protocol.GPSReport:
		if has('g') {
			p := Position{
				Lat: m.Position.Lat, Lon: m.Position.Lon,
				LBS:      m.Position.Location == protocol.LocationLBS,
				Alarm:    m.Position.Business == protocol.BusinessAlarm,
				Received: now,
			}
			if has('t') && m.Time > 0 {
				p.FixTime = time.Unix(m.Time, 0).UTC()
			}
			v.Position = p
			v.Known |= FieldPosition
			ch |= ChangeFix
		}
	case *protocol.Heartbeat:
		if has('b') {
			ch |= v.setBattery(m.Battery)
		}
		if has('r') {
			v.VoltageV, v.Known = m.Voltage, v.Known|FieldVoltage
		}
		if has('c') {
			ch |= v.setPowered(m.Power == 0)
		}
		// The sheet: posture is only meaningful while powered on.
		if has('s') && v.Known.Has(FieldPower) && v.Powered {
			ch |= v.setFallen(m.Posture == 1)
		}
		if has('x') && (m.Station == 1 || m.Station == 3) {
			ch |= v.setStation(m.Station == 1)
		}
	case *protocol.StatusParams:
		if has('s') {
			ch |= v.setFallen(m.Posture == 1)
		}
		if has('r') {
			v.VoltageV, v.Known = m.Voltage, v.Known|FieldVoltage
		}
	case *protocol.VehicleParams:
		if has('k') {
			v.SpeedLimitKmh, v.Known = m.SpeedLimitKMH(), v.Known|FieldSpeedLimit
		}
		if has('p') {
			v.SpeedKmh, v.Known = m.Speed, v.Known|FieldSpeed
		}
		if has('e') {
			if !v.Known.Has(FieldError) || v.ErrorCode != m.Error {
				ch |= ChangeError
			}
			v.ErrorCode, v.Known = m.Error, v.Known|FieldError
		}
		if has('b') {
			ch |= v.setBattery(m.Battery)
		}
		if has('c') {
			ch |= v.setPowered(m.Power == 0)
		}
	case *protocol.VersionReply:
		if has('h') || has('f') || has('c') {
			old := [3]string{v.Hardware, v.Firmware, v.SIM}
			if has('h') {
				v.Hardware = m.Hardware
			}
			if has('f') {
				v.Firmware = m.Firmware
			}
			if has('c') {
				v.SIM = m.SIM
			}
			if old != [3]string{v.Hardware, v.Firmware, v.SIM} || !v.Known.Has(FieldVersion) {
				ch |= ChangeVersion
			}
			v.Known |= FieldVersion
		}
		if has('m') && m.IMEI != "" {
			v.IMEI, v.Known = m.IMEI, v.Known|FieldIMEI
		}
		if has('s') {
			ch |= v.setPowered(m.Power == 0)
		}
	case *protocol.IMEIReply:
		if has('h') && m.IMEI != "" {
			v.IMEI, v.Known = m.IMEI, v.Known|FieldIMEI
		}
	case *protocol.SignalReply:
		if has('x') {
			v.Signal, v.Known = m.Level, v.Known|FieldSignal
		}
	case *protocol.PowerOnReply:
		if ok(has, m.Status) {
			ch |= v.setPowered(true)
		}
	case *protocol.PowerOffReply:
		if ok(has, m.Status) {
			ch |= v.setPowered(false)
		}
	case *protocol.PauseReply:
		if ok(has, m.Status) {
			ch |= v.setPaused(true)
		}
	case *protocol.ResumeReply:
		if ok(has, m.Status) {
			ch |= v.setPaused(false)
		}
	case *protocol.MotorLockReply:
		if ok(has, m.Status) {
			ch |= v.setLocked(true)
		}
	case *protocol.MotorUnlockReply:
		if ok(has, m.Status) {
			ch |= v.setLocked(false)
		}
	case *protocol.ChainUnlockReply:
		if ok(has, m.Status) {
			v.ChainOpen, v.Known = true, v.Known|FieldChainLock
		}
	case *protocol.ChainLockState:
		if has('s') {
			v.ChainOpen, v.Known = m.Status == 1, v.Known|FieldChainLock
		}
	case *protocol.VibrationDetected, *protocol.VibrationCheck:
		v.LastVibration = now
		ch |= ChangeVibration
	}
	return ch
}

// ok reports whether an ack says success: s present and 0.
func ok(has func(byte) bool, s protocol.Status) bool { return has('s') && s == protocol.StatusOK }

func (v *Vehicle) setBattery(pct int) Change {
	var ch Change
	if !v.Known.Has(FieldBattery) || v.BatteryPct != pct {
		ch = ChangeBattery
	}
	v.BatteryPct, v.Known = pct, v.Known|FieldBattery
	return ch
}

func (v *Vehicle) setPowered(on bool) Change {
	var ch Change
	if !v.Known.Has(FieldPower) || v.Powered != on {
		ch = ChangePoweredOff
		if on {
			ch = ChangePoweredOn
		}
	}
	v.Powered, v.Known = on, v.Known|FieldPower
	if !on {
		// A parked scooter is not riding: a pause ends with the ride.
		v.Paused = false
	}
	return ch
}

func (v *Vehicle) setFallen(fallen bool) Change {
	var ch Change
	switch {
	case fallen && (!v.Known.Has(FieldPosture) || !v.Fallen):
		ch = ChangeFell
	case !fallen && v.Known.Has(FieldPosture) && v.Fallen:
		ch = ChangeUpright
	}
	v.Fallen, v.Known = fallen, v.Known|FieldPosture
	return ch
}

func (v *Vehicle) setStation(at bool) Change {
	var ch Change
	switch {
	case at && (!v.Known.Has(FieldStation) || !v.AtStation):
		ch = ChangeArrivedStation
	case !at && v.Known.Has(FieldStation) && v.AtStation:
		ch = ChangeLeftStation
	}
	v.AtStation, v.Known = at, v.Known|FieldStation
	return ch
}

func (v *Vehicle) setPaused(p bool) Change {
	var ch Change
	if !v.Known.Has(FieldPause) || v.Paused != p {
		ch = ChangeResumed
		if p {
			ch = ChangePaused
		}
	}
	v.Paused, v.Known = p, v.Known|FieldPause
	return ch
}

func (v *Vehicle) setLocked(l bool) Change {
	var ch Change
	if !v.Known.Has(FieldLock) || v.Locked != l {
		ch = ChangeUnlocked
		if l {
			ch = ChangeLocked
		}
	}
	v.Locked, v.Known = l, v.Known|FieldLock
	return ch
}

// setState moves the connectivity state and returns the matching change.
func (v *Vehicle) setState(s State, now time.Time) Change {
	if v.State == s {
		return 0
	}
	v.State, v.StateSince = s, now
	switch s {
	case StateOnline:
		return ChangeOnline
	case StateOffline:
		return ChangeOffline
	default:
		return ChangeLost
	}
}

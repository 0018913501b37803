package rules

import (
	"errors"
	"fmt"
	"time"

	"github.com/fleetedge/fleetedge/protocol"
)

// ErrConfig reports an unusable Config; New wraps it with the field at fault.
var ErrConfig = errors.New("invalid rules config")

// Defaults applied by New to zero fields of Config.
const (
	DefaultNormalLimitKmh    = 25
	DefaultHysteresisMetres  = 10.0
	DefaultVibrationCooldown = time.Minute
)

// DefaultRamp is the ramp-down used when Config.Ramp is nil: walking speed at
// once, a stop 10 s later (so the rider has time to slow down and step off).
func DefaultRamp() []RampStep {
	return []RampStep{{After: 0, LimitKmh: 6}, {After: 10 * time.Second, LimitKmh: 0}}
}

// Config tunes the Engine. The zero value is usable: every zero field means
// its documented default, so a partly filled Config is never unsafe.
type Config struct {
	// DefaultLimitKmh is the normal speed limit of a vehicle with no limit of
	// its own (Fix.NormalLimitKmh == 0) and none for its type. 0 means
	// DefaultNormalLimitKmh (25); otherwise 1–30.
	DefaultLimitKmh int
	// TypeLimitsKmh are normal limits per GBFS vehicle_type_id (1–30),
	// used when Fix.NormalLimitKmh is 0.
	TypeLimitsKmh map[string]int

	// Hysteresis against GPS jitter at zone borders (see the package doc).
	Hysteresis Hysteresis

	// Ramp is the no-ride ramp-down: steps at increasing delays since the
	// vehicle entered the no-ride region. nil means DefaultRamp(). An empty
	// non-nil slice applies the final limit at once (unsafe: an instant stop
	// throws riders; only for testing).
	Ramp []RampStep
	// SilentRamp stops the buzzer (28) from sounding at each ramp step after
	// the first; the entry itself always sounds it.
	SilentRamp bool

	// ZoneAlarmBuzzer sounds 28 when a vehicle enters a zone with the
	// fleetedge alarm_on_entry extension (the alarm event is always raised).
	ZoneAlarmBuzzer bool

	// Theft tunes the reaction to vibration while parked.
	Theft Theft

	// UseLBSFixes evaluates cell-tower (LBS) fixes too. By default they are
	// ignored: they can be hundreds of metres off and would ramp down
	// scooters that are nowhere near a no-ride zone.
	UseLBSFixes bool
	// SendInitialLimit sends 13 on the first powered fix of a vehicle the
	// engine has no record of (after a gateway restart), even when the
	// effective limit is the vehicle's normal one. By default the engine
	// assumes such a vehicle runs at its normal limit and sends nothing.
	SendInitialLimit bool
}

// Hysteresis defines when a fix may change a vehicle's committed verdict.
type Hysteresis struct {
	// Metres: every zone whose containment differs between the committed and
	// the new verdict must have its boundary at least this far (geodesic,
	// WGS84) from the fix. 0 means DefaultHysteresisMetres (10 m); negative
	// disables the distance test.
	Metres float64
	// Dwell: the new verdict must have been the outcome of every fix for at
	// least this long (measured from the first fix that produced it).
	// 0 disables the time test.
	Dwell time.Duration
	// Settle, when > 0, commits a new verdict that persisted for this long
	// even if the fix is still within Metres of a boundary (a vehicle riding
	// along just inside a zone gets its rules eventually). 0: never.
	Settle time.Duration
}

// RampStep is one step of the no-ride ramp-down.
type RampStep struct {
	// After is the delay since the vehicle entered the no-ride region.
	// Steps must be in non-decreasing order.
	After time.Duration
	// LimitKmh is the limit of this step, 0–30 (0 stops the vehicle:
	// 13 with k = 2000). It is raised to the zone's own final limit if the
	// zone sets a higher one, and never exceeds the vehicle's normal limit.
	LimitKmh int
}

// Theft tunes the parked-vehicle vibration rule.
type Theft struct {
	// NoBuzzer: do not sound 28 (PROTOCOL.md: theft suspicion → 28, 107).
	NoBuzzer bool
	// NoMotorLock: do not send 107.
	NoMotorLock bool
	// Cooldown is the least time between two theft alarms of one vehicle;
	// vibration reports in between are counted only. 0 means
	// DefaultVibrationCooldown (1 min); negative: every report alarms.
	Cooldown time.Duration
}

// withDefaults fills zero fields and validates the result.
func (c Config) withDefaults() (Config, error) {
	if c.DefaultLimitKmh == 0 {
		c.DefaultLimitKmh = DefaultNormalLimitKmh
	}
	if err := checkLimit(c.DefaultLimitKmh, 1); err != nil {
		return c, fmt.Errorf("%w: DefaultLimitKmh: %w", ErrConfig, err)
	}
	limits := make(map[string]int, len(c.TypeLimitsKmh))
	for typ, l := range c.TypeLimitsKmh {
		if err := checkLimit(l, 1); err != nil {
			return c, fmt.Errorf("%w: TypeLimitsKmh[%q]: %w", ErrConfig, typ, err)
		}
		limits[typ] = l
	}
	c.TypeLimitsKmh = limits
	if c.Hysteresis.Metres == 0 {
		c.Hysteresis.Metres = DefaultHysteresisMetres
	}
	if c.Hysteresis.Metres != c.Hysteresis.Metres { // NaN
		return c, fmt.Errorf("%w: Hysteresis.Metres is NaN", ErrConfig)
	}
	if c.Hysteresis.Dwell < 0 || c.Hysteresis.Settle < 0 {
		return c, fmt.Errorf("%w: Hysteresis durations must not be negative", ErrConfig)
	}
	if c.Ramp == nil {
		c.Ramp = DefaultRamp()
	}
	ramp := make([]RampStep, len(c.Ramp))
	copy(ramp, c.Ramp)
	for i, s := range ramp {
		if s.After < 0 || (i > 0 && s.After < ramp[i-1].After) {
			return c, fmt.Errorf("%w: Ramp[%d].After: negative or before the previous step", ErrConfig, i)
		}
		if err := checkLimit(s.LimitKmh, 0); err != nil {
			return c, fmt.Errorf("%w: Ramp[%d].LimitKmh: %w", ErrConfig, i, err)
		}
	}
	c.Ramp = ramp
	if c.Theft.Cooldown == 0 {
		c.Theft.Cooldown = DefaultVibrationCooldown
	}
	return c, nil
}

func checkLimit(kmh, lowest int) error {
	if kmh < lowest || kmh > protocol.MaxSpeedLimitKMH {
		return fmt.Errorf("%d km/h outside %d–%d", kmh, lowest, protocol.MaxSpeedLimitKMH)
	}
	return nil
}

// clampLimit brings a zone's maximum_speed_kph into what 13 can carry.
func clampLimit(kmh int) int {
	return min(max(kmh, 0), protocol.MaxSpeedLimitKMH)
}

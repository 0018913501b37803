package rules

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// Reason says why the engine sent a command; it labels the commands metric
// and lets the command queue's caller tag the command's source.
type Reason string

// Command reasons.
const (
	ReasonSlowZone    Reason = "slow_zone"    // 13 lowering the limit in a slow zone
	ReasonNormalLimit Reason = "normal_limit" // 13 restoring the vehicle's normal (or a higher zone) limit
	ReasonNoRide      Reason = "no_ride"      // 28 on entry, 13 and 28 of each ramp step
	ReasonZoneAlarm   Reason = "zone_alarm"   // 28 on entering an alarm_on_entry zone
	ReasonTheft       Reason = "theft"        // 28 and 107 on vibration while parked
)

// Alarm reasons carried by link.AlarmEvent.Reason.
const (
	AlarmNoRideZone        = "no_ride_zone"
	AlarmLeftOperatingArea = "left_operating_area"
	AlarmZoneEntry         = "zone_entry"
	AlarmVibration         = "vibration"
	AlarmFallen            = "fallen"
)

// Commander hands a command to the vehicle's command queue (in the gateway:
// command.Manager.Send, fire-and-forget). It is called with the vehicle's
// rule state locked — from the fix's goroutine or from a ramp timer — so the
// order of calls for one vehicle is the order of the engine's decisions. It
// must not block on I/O and must not call back into the Engine.
type Commander interface {
	Command(vehicle protocol.VehicleID, cmd protocol.Command, reason Reason)
}

// CommanderFunc adapts a function to Commander.
type CommanderFunc func(vehicle protocol.VehicleID, cmd protocol.Command, reason Reason)

// Command calls f.
func (f CommanderFunc) Command(vehicle protocol.VehicleID, cmd protocol.Command, reason Reason) {
	f(vehicle, cmd, reason)
}

// Clock is the engine's timer source for ramp-down steps (the same shape as
// the command queue's clock; the gateway adapts one to the other).
type Clock interface {
	Now() time.Time
	// AfterFunc calls f on another goroutine once d has elapsed, unless the
	// timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface{ Stop() bool }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Options wire an Engine. Commander is required.
type Options struct {
	Config    Config
	Commander Commander
	Clock     Clock        // SystemClock if nil
	Logger    *slog.Logger // discarded if nil
	// Registerer receives the engine's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Zones is the initial zone set (nil: no zones, nothing restricted).
	Zones *zone.Set
}

// Fix is one GPS fix of a vehicle, with what the rules need to know about it.
type Fix struct {
	Vehicle protocol.VehicleID
	// Type is the vehicle's GBFS vehicle_type_id ("" matches only rules
	// without vehicle_type_ids).
	Type string
	// Point is the position, [lon, lat] in decimal degrees (orb order).
	Point orb.Point
	// LBS marks a cell-tower fix (ignored unless Config.UseLBSFixes).
	LBS bool
	// Powered is the vehicle's power state (on = riding). Fixes of a vehicle
	// that is off end its ride state and send nothing.
	Powered bool
	// NormalLimitKmh is this vehicle's configured normal limit (1–30);
	// 0 uses Config.TypeLimitsKmh[Type], else Config.DefaultLimitKmh.
	NormalLimitKmh int
	// Time is when the fix was received (the ingest's now).
	Time time.Time
}

// Engine evaluates zone rules on GPS fixes and parked-vehicle rules on status
// reports. See the package doc for the rules and the concurrency contract.
type Engine struct {
	cfg   Config
	cmd   Commander
	clock Clock
	log   *slog.Logger
	m     *metrics

	zones  atomic.Pointer[zone.Set]
	closed atomic.Bool
	count  atomic.Int64
	shards [numShards]shard
}

const numShards = 64

type shard struct {
	mu sync.RWMutex // guards m (not the vehicles in it: each has its own mutex)
	m  map[protocol.VehicleID]*vehicle
}

// New builds an Engine.
func New(opts Options) (*Engine, error) {
	if opts.Commander == nil {
		return nil, fmt.Errorf("rules: new: %w: no commander", ErrConfig)
	}
	cfg, err := opts.Config.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("rules: new: %w", err)
	}
	e := &Engine{cfg: cfg, cmd: opts.Commander, clock: opts.Clock, log: opts.Logger}
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("component", "rules")
	for i := range e.shards {
		e.shards[i].m = make(map[protocol.VehicleID]*vehicle)
	}
	e.zones.Store(opts.Zones)
	e.m, err = newMetrics(opts.Registerer, func() float64 { return float64(e.count.Load()) })
	if err != nil {
		return nil, fmt.Errorf("rules: new: %w", err)
	}
	return e, nil
}

// Config returns the effective configuration (defaults filled in).
func (e *Engine) Config() Config { return e.cfg }

// SetZones swaps the zone set; nil removes every zone. The next fix of each
// vehicle is evaluated against the new set; nothing pauses. Zones are matched
// across sets by id, so a vehicle inside a zone that is in both sets has not
// "entered" it again.
func (e *Engine) SetZones(s *zone.Set) { e.zones.Store(s) }

// Zones returns the current zone set (nil if none).
func (e *Engine) Zones() *zone.Set { return e.zones.Load() }

// Close stops every pending ramp timer; afterwards the engine ignores all
// input and sends nothing. It is safe to call more than once.
func (e *Engine) Close() {
	if e.closed.Swap(true) {
		return
	}
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.RLock()
		for _, v := range sh.m {
			v.mu.Lock()
			v.stopRamp()
			v.mu.Unlock()
		}
		sh.mu.RUnlock()
	}
}

// Forget drops a vehicle's rule state (the vehicle was removed from the
// configuration) and cancels its ramp. A later input starts from scratch.
func (e *Engine) Forget(id protocol.VehicleID) {
	sh := e.shard(id)
	sh.mu.Lock()
	v := sh.m[id]
	if v != nil {
		delete(sh.m, id)
		e.count.Add(-1)
	}
	sh.mu.Unlock()
	if v != nil {
		v.mu.Lock()
		v.gone = true
		v.stopRamp()
		v.mu.Unlock()
	}
}

// Retain forgets every vehicle for which keep returns false (a new vehicles
// document arrived) and returns how many it forgot. keep is called with a
// shard lock held: it must not call the Engine.
func (e *Engine) Retain(keep func(protocol.VehicleID) bool) int {
	n := 0
	for i := range e.shards {
		sh := &e.shards[i]
		var drop []*vehicle
		sh.mu.Lock()
		for id, v := range sh.m {
			if !keep(id) {
				delete(sh.m, id)
				drop = append(drop, v)
			}
		}
		sh.mu.Unlock()
		for _, v := range drop {
			v.mu.Lock()
			v.gone = true
			v.stopRamp()
			v.mu.Unlock()
		}
		e.count.Add(-int64(len(drop)))
		n += len(drop)
	}
	return n
}

// Len returns the number of vehicles with rule state.
func (e *Engine) Len() int { return int(e.count.Load()) }

func (e *Engine) shard(id protocol.VehicleID) *shard {
	// FNV-1a, inline so the hot path does not allocate.
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return &e.shards[h%numShards]
}

// lock returns the vehicle's state, created if needed, with its mutex held.
func (e *Engine) lock(id protocol.VehicleID) *vehicle {
	sh := e.shard(id)
	for {
		sh.mu.RLock()
		v := sh.m[id]
		sh.mu.RUnlock()
		if v == nil {
			sh.mu.Lock()
			if v = sh.m[id]; v == nil {
				v = &vehicle{id: id}
				sh.m[id] = v
				e.count.Add(1)
			}
			sh.mu.Unlock()
		}
		v.mu.Lock()
		if !v.gone {
			return v
		}
		v.mu.Unlock() // forgotten meanwhile: look again
	}
}

// lookup returns the vehicle's state with its mutex held, or nil.
func (e *Engine) lookup(id protocol.VehicleID) *vehicle {
	sh := e.shard(id)
	sh.mu.RLock()
	v := sh.m[id]
	sh.mu.RUnlock()
	if v == nil {
		return nil
	}
	v.mu.Lock()
	if v.gone {
		v.mu.Unlock()
		return nil
	}
	return v
}

// normalLimit resolves a fix's normal limit.
func (e *Engine) normalLimit(f *Fix) int {
	if f.NormalLimitKmh > 0 {
		return min(f.NormalLimitKmh, protocol.MaxSpeedLimitKMH)
	}
	if l, ok := e.cfg.TypeLimitsKmh[f.Type]; ok {
		return l
	}
	return e.cfg.DefaultLimitKmh
}

// send issues one command and counts it. Called with v.mu held.
func (e *Engine) send(v *vehicle, cmd protocol.Command, reason Reason) {
	e.cmd.Command(v.id, cmd, reason)
	e.m.command(reason, cmd.Code())
}

// sendLimit sends 13 with kmh and records it as applied. Called with v.mu held.
// Every limit is already within 0–30 (clampLimit, checkLimit), so the command
// is built directly: protocol.NewSetSpeedLimit's validation would allocate.
func (e *Engine) sendLimit(v *vehicle, kmh int, reason Reason) {
	if kmh < 0 || kmh > protocol.MaxSpeedLimitKMH { // unreachable
		e.log.Error("speed limit out of range", "vehicle", v.id, "kmh", kmh)
		return
	}
	e.send(v, &protocol.SetSpeedLimit{KMH: kmh}, reason)
	v.applied, v.known = kmh, true
}

func position(p orb.Point) *link.Position { return &link.Position{Lat: p[1], Lon: p[0]} }

func alarmEvent(id protocol.VehicleID, now time.Time, reason, zoneID string, pos *link.Position) link.Event {
	return link.Event{Vehicle: string(id), Time: now, Kind: link.EventAlarm,
		Alarm: &link.AlarmEvent{Reason: reason, ZoneID: zoneID, Position: pos}}
}

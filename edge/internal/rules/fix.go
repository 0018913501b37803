package rules

import (
	"slices"
	"sync"
	"time"

	"github.com/paulmach/orb"

	"github.com/fleetedge/fleetedge/protocol"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/geo"
	"github.com/fleetedge/fleetedge/shared/zone"
)

// vehicle is one vehicle's rule state. mu guards every field; it is held
// for the in-memory decision and the (non-blocking) Commander calls only.
type vehicle struct {
	mu   sync.Mutex
	id   protocol.VehicleID
	gone bool // forgotten: a newer state may replace it in the shard map

	// applied is the last limit sent (or assumed, see Config.SendInitialLimit).
	applied int
	known   bool
	resync  bool // Resync asked: send the current limit at the next fix

	// riding: a committed verdict exists (the vehicle is powered on and had
	// a fix evaluated since).
	riding   bool
	set      *zone.Set // the set curZones and pendZones index into
	cur      outcome
	curZones []int // containing zones of the committed verdict (ascending)

	hasPend   bool // a verdict different from cur was seen and not yet committed
	pend      outcome
	pendZones []int
	pendSince time.Time

	scratch zone.Verdict // reused by EvaluateInto
	ramp    ramp

	fallen    bool
	lastTheft time.Time
}

// outcome is what a verdict means for one vehicle: the part of zone.Verdict
// that decides commands and alarms.
type outcome struct {
	noRide    bool
	rulesFrom zone.Source // who forbids riding (noRide only)
	final     int         // the limit once any ramp is over
	normal    int         // the vehicle's normal limit (ramp steps never exceed it)
}

// ramp is a running no-ride ramp-down.
type ramp struct {
	active bool
	since  time.Time // entry into the no-ride region
	next   int       // index of the next step to apply
	timer  Timer
	gen    uint64 // bumped on every start/stop: a stale timer sees a different gen
}

func (v *vehicle) stopRamp() {
	if v.ramp.timer != nil {
		v.ramp.timer.Stop()
		v.ramp.timer = nil
	}
	v.ramp.active = false
	v.ramp.gen++
}

// outcomeOf reduces a verdict for a vehicle with the given normal limit.
func outcomeOf(vd *zone.Verdict, normal int) outcome {
	o := outcome{normal: normal, final: normal, rulesFrom: zone.SourceNone}
	if !vd.RideThroughAllowed {
		o.noRide, o.rulesFrom, o.final = true, vd.RulesFrom, 0
		// The zone that forbids riding may set where the ramp ends ("13 to
		// the zone's limit"); a limit from another zone does not soften a stop.
		if vd.SpeedLimited && vd.SpeedFrom == vd.RulesFrom {
			o.final = min(clampLimit(vd.MaxSpeedKPH), normal)
		}
		return o
	}
	if vd.SpeedLimited {
		o.final = min(clampLimit(vd.MaxSpeedKPH), normal)
	}
	return o
}

// OnFix evaluates the zone rules for one GPS fix and appends the alarm events
// it raises to dst (nil and no allocation when nothing changes). Commands go
// to the Commander before it returns. Fixes of one vehicle must not be
// passed concurrently (see the package doc); different vehicles may.
func (e *Engine) OnFix(dst []link.Event, f Fix) []link.Event {
	if e.closed.Load() {
		return dst
	}
	start := time.Now()
	defer e.m.observe(start)
	if f.LBS && !e.cfg.UseLBSFixes {
		e.m.ignoredLBS.Inc()
		return dst
	}
	if geo.CheckPoint(f.Point) != nil {
		e.m.ignoredInvalid.Inc()
		return dst
	}
	if !f.Powered {
		if v := e.lookup(f.Vehicle); v != nil {
			v.endRide()
			v.mu.Unlock()
		}
		return dst
	}
	v := e.lock(f.Vehicle)
	defer v.mu.Unlock()

	set := e.zones.Load()
	normal := e.normalLimit(&f)
	var cand outcome
	if set == nil {
		v.scratch.Containing, v.scratch.Alarm = v.scratch.Containing[:0], false
		cand = outcome{normal: normal, final: normal, rulesFrom: zone.SourceNone}
	} else {
		set.EvaluateInto(&v.scratch, f.Point, f.Type, f.Time)
		cand = outcomeOf(&v.scratch, normal)
	}
	candZones := v.scratch.Containing

	if !v.riding {
		// First fix of a ride: nothing to flap from, act at once.
		return e.commit(dst, v, set, cand, candZones, f.Point, f.Time)
	}
	if v.set != set {
		v.rebase(set)
	}
	// Same outcome but other containing zones (a transparent or shadowed
	// zone, an overlapping zone with the same limit): nothing to act on and
	// nothing to flap, so the zones are updated without hysteresis — unless
	// an alarm_on_entry zone was entered.
	sameZones := slices.Equal(candZones, v.curZones)
	if cand == v.cur && (sameZones || !v.scratch.Alarm || !enteredAlarm(set, v.curZones, candZones)) {
		if !sameZones {
			v.curZones = append(v.curZones[:0], candZones...)
		}
		v.hasPend = false
		if v.resync {
			e.reapply(v, f.Time)
		}
		return dst
	}
	// A different verdict: commit it only once it passes the hysteresis.
	if !v.hasPend || cand != v.pend || !slices.Equal(candZones, v.pendZones) {
		v.hasPend, v.pend, v.pendSince = true, cand, f.Time
		v.pendZones = append(v.pendZones[:0], candZones...)
	}
	if !e.passes(v, set, f.Point, f.Time) {
		e.m.held.Inc()
		return dst
	}
	return e.commit(dst, v, set, cand, candZones, f.Point, f.Time)
}

// enteredAlarm reports whether cur holds an alarm_on_entry zone prev does not.
func enteredAlarm(set *zone.Set, prev, cur []int) bool {
	var buf [4]int
	return len(set.EnteredAlarmZones(buf[:0], prev, cur)) > 0
}

// passes applies the hysteresis rule to the pending verdict (see doc.go).
func (e *Engine) passes(v *vehicle, set *zone.Set, p orb.Point, now time.Time) bool {
	h := e.cfg.Hysteresis
	held := now.Sub(v.pendSince)
	if h.Dwell > 0 && held < h.Dwell {
		return false
	}
	if h.Metres <= 0 || set == nil {
		return true
	}
	if h.Settle > 0 && held >= h.Settle {
		return true
	}
	return farFromChanged(set, p, v.curZones, v.pendZones, h.Metres)
}

// farFromChanged reports whether every zone in exactly one of a and b (both
// ascending) has its boundary at least m metres from p.
func farFromChanged(set *zone.Set, p orb.Point, a, b []int, m float64) bool {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var z int
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			z = a[i]
			i++
		case i == len(a) || b[j] < a[i]:
			z = b[j]
			j++
		default: // in both
			i++
			j++
			continue
		}
		d, err := set.DistanceToBoundary(p, z)
		if err != nil || d < m {
			return false
		}
	}
	return true
}

// rebase translates the committed zones into a new set by zone id, so a swap
// does not look like entering every zone again; the pending verdict is
// dropped (it indexes the old set).
func (v *vehicle) rebase(set *zone.Set) {
	old := v.set
	v.set = set
	v.hasPend = false
	n := 0
	for _, zi := range v.curZones {
		if old == nil || set == nil {
			break
		}
		z, err := old.Zone(zi)
		if err != nil {
			continue
		}
		if j, ok := set.Lookup(z.ID); ok {
			v.curZones[n] = j
			n++
		}
	}
	v.curZones = v.curZones[:n]
	slices.Sort(v.curZones)
	if v.cur.noRide {
		// The zone that forbade riding is an index of the old set too.
		v.cur.rulesFrom = translate(old, set, v.cur.rulesFrom)
	}
}

func translate(old, set *zone.Set, s zone.Source) zone.Source {
	zi, ok := s.Zone()
	if !ok || old == nil || set == nil {
		return s
	}
	z, err := old.Zone(zi)
	if err != nil {
		return zone.SourceNone
	}
	if j, ok := set.Lookup(z.ID); ok {
		return zone.Source(j)
	}
	return zone.SourceNone
}

// endRide forgets the committed verdict and cancels a ramp (power off).
// The applied limit is kept: it is what the scooter still has.
func (v *vehicle) endRide() {
	v.riding = false
	v.hasPend = false
	v.stopRamp()
}

// commit makes cand the vehicle's verdict and acts on the difference.
func (e *Engine) commit(dst []link.Event, v *vehicle, set *zone.Set, cand outcome, zones []int, p orb.Point, now time.Time) []link.Event {
	prev, prevZones, wasRiding := v.cur, v.curZones, v.riding
	if !wasRiding {
		prevZones = prevZones[:0]
	}
	if set != nil && v.scratch.Alarm {
		for _, zi := range set.EnteredAlarmZones(nil, prevZones, zones) {
			id := zoneID(set, zoneSource(zi))
			dst = append(dst, alarmEvent(v.id, now, AlarmZoneEntry, id, position(p)))
			e.m.alarm(AlarmZoneEntry)
			if e.cfg.ZoneAlarmBuzzer {
				e.send(v, &protocol.Buzzer{}, ReasonZoneAlarm)
			}
		}
	}
	v.riding, v.set, v.cur, v.hasPend = true, set, cand, false
	v.curZones = append(v.curZones[:0], zones...)
	e.m.transitions.Inc()

	if cand.noRide && (!wasRiding || !prev.noRide || prev.rulesFrom != cand.rulesFrom) {
		reason := AlarmNoRideZone
		if cand.rulesFrom == zone.SourceGlobal {
			reason = AlarmLeftOperatingArea
		}
		id := zoneID(set, cand.rulesFrom)
		dst = append(dst, alarmEvent(v.id, now, reason, id, position(p)))
		e.m.alarm(reason)
		e.log.Info("no-ride region entered", "vehicle", v.id, "reason", reason, "zone", id,
			"lat", p[1], "lon", p[0])
		e.send(v, &protocol.Buzzer{}, ReasonNoRide)
		if !v.ramp.active {
			v.stopRamp() // bumps gen
			v.ramp.active, v.ramp.since, v.ramp.next = true, now, 0
		}
		e.advanceRamp(v, now, false)
		return dst
	}
	if !cand.noRide && v.ramp.active {
		v.stopRamp()
		e.log.Info("no-ride region left, ramp cancelled", "vehicle", v.id, "limit_kmh", cand.final)
	}
	if cand.noRide {
		// Same no-ride region, other attributes changed (normal limit, a
		// zone's final limit): re-apply the current ramp step.
		e.advanceRamp(v, now, false)
		return dst
	}
	e.applyLimit(v, cand.final, cand.normal)
	return dst
}

// reapply sends the committed verdict's current limit again (after Resync).
func (e *Engine) reapply(v *vehicle, now time.Time) {
	if v.cur.noRide {
		e.advanceRamp(v, now, false)
	} else {
		e.applyLimit(v, v.cur.final, v.cur.normal)
	}
	v.resync = false
}

// applyLimit sends 13 when kmh differs from what the vehicle has.
func (e *Engine) applyLimit(v *vehicle, kmh, normal int) {
	force := v.resync
	v.resync = false
	if !v.known && kmh == normal && !e.cfg.SendInitialLimit && !force {
		v.applied, v.known = kmh, true // assume a vehicle we never commanded runs at its normal limit
		return
	}
	if v.known && v.applied == kmh {
		return
	}
	reason := ReasonNormalLimit
	if kmh < normal {
		reason = ReasonSlowZone
	}
	e.sendLimit(v, kmh, reason)
}

// rampLimit is the limit of ramp step i for outcome o.
func (e *Engine) rampLimit(o outcome, i int) int {
	return min(max(e.cfg.Ramp[i].LimitKmh, o.final), o.normal)
}

// advanceRamp applies every step that is due at now, sends the resulting
// limit if it changed (with the buzzer when a timer brought a new step and
// the ramp is not silent) and arms the timer for the next step.
func (e *Engine) advanceRamp(v *vehicle, now time.Time, fromTimer bool) {
	steps := e.cfg.Ramp
	r := &v.ramp
	stepped := false
	for r.next < len(steps) && !r.since.Add(steps[r.next].After).After(now) {
		r.next++
		stepped = true
	}
	target := -1 // before the first step: leave the limit alone
	switch {
	case len(steps) == 0:
		target = v.cur.final
	case r.next > 0:
		target = e.rampLimit(v.cur, r.next-1)
	}
	if target >= 0 && (!v.known || v.applied != target) {
		v.resync = false
		e.sendLimit(v, target, ReasonNoRide)
		if fromTimer && stepped && !e.cfg.SilentRamp {
			e.send(v, &protocol.Buzzer{}, ReasonNoRide)
		}
	}
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if r.next < len(steps) {
		gen := r.gen
		d := r.since.Add(steps[r.next].After).Sub(now)
		r.timer = e.clock.AfterFunc(d, func() { e.rampFire(v, gen) })
	}
}

// rampFire runs on the clock's goroutine when a ramp step is due.
func (e *Engine) rampFire(v *vehicle, gen uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.gone || !v.ramp.active || v.ramp.gen != gen || e.closed.Load() {
		return // cancelled after the timer had already fired
	}
	v.ramp.timer = nil
	e.advanceRamp(v, e.clock.Now(), true)
}

// zoneID names the zone a source points at ("" for global rules or none).
func zoneID(set *zone.Set, s zone.Source) string {
	zi, ok := s.Zone()
	if !ok || set == nil {
		return ""
	}
	z, err := set.Zone(zi)
	if err != nil {
		return ""
	}
	return z.ID
}

// Resync makes the engine forget which limit a vehicle has: its next powered
// fix sends the limit that applies there, even if the verdict did not
// change. Call it when a 13 the engine sent failed or expired (the command
// queue's outcome), or when the vehicle reports a limit (16 k) that differs
// from VehicleState.LimitKmh. Unknown vehicles are ignored.
func (e *Engine) Resync(id protocol.VehicleID) {
	if v := e.lookup(id); v != nil {
		v.known, v.resync = false, true
		v.mu.Unlock()
	}
}

// OnReportedLimit compares a limit the vehicle reported (16 k) with the one
// the engine last sent; if they differ, the next fix sends it again
// (Resync). A report that crossed a 13 in flight costs one idempotent resend.
func (e *Engine) OnReportedLimit(id protocol.VehicleID, kmh int) {
	if v := e.lookup(id); v != nil {
		if v.known && v.applied != kmh {
			v.known, v.resync = false, true
		}
		v.mu.Unlock()
	}
}

// OnPower tells the engine a vehicle was powered on or off (27 c, 16 c, acks
// of 1 and 3). Power off ends the ride state at once: a running ramp is
// cancelled and no speed command is sent until the vehicle rides again.
// Power on needs no call: the next powered fix starts the ride state.
func (e *Engine) OnPower(id protocol.VehicleID, powered bool) {
	if powered || e.closed.Load() {
		return
	}
	if v := e.lookup(id); v != nil {
		v.endRide()
		v.mu.Unlock()
	}
}

func zoneSource(zi int) zone.Source { return zone.Source(zi) }

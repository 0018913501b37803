// Package rules owns the gateway's real-time vehicle rules: the zone rules
// evaluated on every GPS fix of a riding vehicle (slow zones, no-ride zones
// and the operating area, with hysteresis and a safe ramp-down) and the
// parked-vehicle rules evaluated on status reports (vibration, falls). It
// decides; it does no I/O. Commands go to a Commander (the gateway's
// command queue, fire-and-forget), alarm events are returned to the caller
// (the ingest stores them with the report), time comes from a Clock.
//
// # Zone rules (Engine.OnFix)
//
// Each fix is evaluated with zone.Set.EvaluateInto for the vehicle's GBFS
// vehicle_type_id, so per-type rules apply as GBFS defines them. The verdict
// is reduced to an outcome:
//
//   - ride_through_allowed true: the limit is the verdict's
//     maximum_speed_kph clamped to 0–30 and never above the vehicle's normal
//     limit (a "slow zone" cannot raise a limit), else the normal limit.
//     Normal limit: Fix.NormalLimitKmh (per-vehicle configuration), else
//     Config.TypeLimitsKmh[type], else Config.DefaultLimitKmh (25).
//   - ride_through_allowed false (a no-ride zone, or outside the operating
//     area: the global_rules forbid riding): an alarm event — reason
//     "no_ride_zone" with the zone id, or "left_operating_area" without one
//     — the buzzer (28) at once, and the ramp-down below. The ramp ends at
//     the forbidding rule's own maximum_speed_kph if it sets one (PROTOCOL.md:
//     "13 to the zone's limit"; a limit supplied by another, overlapping
//     zone does not soften it), else at 0 km/h (13 with k = 2000).
//
// 13 is sent only when the resulting limit differs from the last limit sent
// to the vehicle: staying in a zone sends nothing, nor does crossing between
// zones with the same limit. A vehicle the engine never commanded (first
// ride since the gateway started) is assumed to run at its normal limit
// unless Config.SendInitialLimit is set. The engine does not see whether a
// 13 took effect: Resync (to call when a 13 failed or expired, or the
// vehicle reports another limit) makes the next fix send the limit again.
// Zones with the fleetedge
// alarm_on_entry extension raise an alarm event ("zone_entry", zone id) when
// entered, and 28 if Config.ZoneAlarmBuzzer. The first fix of a ride counts
// as entering every zone the vehicle is in.
//
// Only riding vehicles (Fix.Powered) are evaluated: a fix of a powered-off
// vehicle, or OnPower(false), ends the ride state (a running ramp is
// cancelled) and sends nothing; the last limit sent is remembered, so the
// next ride's first fix corrects it if needed. Cell-tower (LBS) fixes are
// ignored unless Config.UseLBSFixes: they can be hundreds of metres off.
// Fixes with coordinates out of range are ignored and counted.
//
// # Hysteresis
//
// A vehicle's committed verdict is (outcome, containing zones), the outcome
// being what the engine acts on (riding allowed or not, which zone forbids
// it, the resulting limit, the normal limit). A fix whose evaluation gives
// the committed outcome clears any pending verdict; if its containing zones
// differ (a zone with no rule for the type, an overlapping zone with the
// same limit) they are updated at once — there is nothing to act on, so
// nothing can flap — unless it entered an alarm_on_entry zone. A fix that
// gives a different outcome (or enters an alarm zone) makes it pending (restarting the pending time
// if it differs from the verdict already pending) and commits it only if,
// at that fix, all of these hold:
//
//  1. Dwell (Hysteresis.Dwell, default off): the pending verdict has been
//     the result of every fix for at least Dwell;
//  2. Metres (Hysteresis.Metres, default 10 m; negative: off): every zone
//     contained in exactly one of the committed and the pending verdicts —
//     the zones whose border the vehicle crossed — has its boundary at least
//     Metres from the fix, measured geodesically on WGS84
//     (zone.Set.DistanceToBoundary); so entering needs the fix Metres
//     inside, leaving needs it Metres outside;
//  3. unless Hysteresis.Settle > 0 and the pending verdict has persisted
//     for Settle, which waives (2): a vehicle riding along just inside a
//     zone gets its rules eventually.
//
// A change that crosses no border (a schedule, a zone swap that changes a
// zone's rules, a new normal limit) passes (2) at once. GPS noise of ±e
// metres across a border therefore never commits when e < Metres, and a
// real crossing is acted on at the first fix that is Metres past the
// border. Distances cost microseconds and are computed only while a
// different verdict is pending (at borders), never in the common case.
//
// # Ramp-down
//
// Config.Ramp lists steps {After, LimitKmh} (default: 6 km/h at once, 0 km/h
// after 10 s). On entering a no-ride region the engine raises the alarm,
// sends 28 and applies every step whose After has elapsed since the entry
// (normally the first: 13 with 6); a timer applies each later step at
// entry+After: 13 with the step's limit, raised to the ramp's end limit and
// capped at the vehicle's normal limit, plus 28 unless Config.SilentRamp. A
// step that would not change the limit sends nothing. Leaving the no-ride
// region (a committed verdict that allows riding) cancels the ramp and sends
// the limit that applies where the vehicle now is. Moving from one no-ride
// zone straight into another raises a new alarm and 28 but keeps the ramp
// going (it never jumps back to a higher step). Power off, Forget, a zone
// swap that removes the no-ride zone and Close cancel it as well; a timer
// that fires after its ramp was cancelled does nothing.
//
// # Parked-vehicle rules
//
// OnVibration (88, 57) while powered off: a theft suspicion — an alarm event
// ("vibration"), 28 and 107 (motor lock) unless Config.Theft says otherwise,
// at most once per Config.Theft.Cooldown (default 1 min) per vehicle.
// Vibration while riding is ignored. OnPosture (27 s, 55 s): the first
// "fallen" raises one alarm event ("fallen"); an upright report re-arms it.
//
// # Zone sets
//
// SetZones swaps the zone set atomically (atomic.Pointer): the next fix of
// each vehicle uses the new set; evaluation never pauses. Committed zones
// are carried into the new set by zone id, so a vehicle does not "enter"
// a zone that is in both sets.
//
// # Wiring
//
// New(Options{Config, Commander, Clock, Logger, Registerer, Zones}) builds
// the engine. Ingest adapts it to the broker's ingest hook (broker.Rules:
// OnUpdate(fleet.Update, protocol.Report, time.Time) []link.Event): it maps
// the fleet's change set to OnFix / OnPower / OnVibration / OnPosture and
// takes each vehicle's type and normal limit from a Directory (the
// gateway's vehicles document, link.VehicleConfig). A vehicle whose power
// state the fleet does not know yet counts as off. When the vehicle list
// changes, Retain (or Forget) drops the state of removed vehicles.
//
// # Concurrency contract
//
// All methods are safe for concurrent use. The caller must not pass two
// fixes of the same vehicle concurrently (in the gateway they arrive on that
// vehicle's MQTT connection goroutine, in order); different vehicles run in
// parallel. Rule state is per vehicle, guarded by that vehicle's mutex; a
// sharded map (64 shards, RWMutex each) finds it. Ramp timers fire on the
// clock's goroutines and take the same mutex, so a fix and a ramp step of
// one vehicle never interleave, and the Commander is called with the mutex
// held: the commands of one vehicle reach it in decision order. The
// Commander must therefore not block and must not call back into the
// Engine. The engine starts no goroutine of its own; Close stops all timers.
//
// # Cost
//
// OnFix on the common path (the verdict did not change) is one map lookup,
// one zone evaluation into a reused buffer, a comparison and a histogram
// observation: no allocation (BenchmarkOnFix). Metrics, registered on the
// Registerer given to New: fleetedge_rules_evaluation_seconds (histogram),
// fleetedge_rules_commands_total{reason,code}, fleetedge_rules_alarms_total
// {reason}, fleetedge_rules_transitions_total, fleetedge_rules_held_fixes_total,
// fleetedge_rules_ignored_fixes_total{cause}, fleetedge_rules_parked_vibrations_total,
// fleetedge_rules_vehicles.
package rules

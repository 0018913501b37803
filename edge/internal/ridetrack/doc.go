// Package ridetrack owns the gateway's view of rides: which vehicle is on
// which cloud ride right now, persisted so a gateway restart keeps it, and
// the ride events (ride_started, ride_paused, ride_resumed, ride_ended) it
// appends to the outbox so the cloud can bill a ride even when it ended
// while the cloud was unreachable.
//
// # Where rides come from
//
// The cloud starts, pauses, resumes and ends a ride with commands 1, 73,
// 75 and 3 whose Source is "ride:<ride id>" (ids "<ride>:start",
// "<ride>:pause:<n>", …; see cloud/internal/rides). The tracker watches the
// command outcomes the command manager emits (OnCommandEvent, called by the
// gateway's command EventSink after the command_result event): on the
// scooter's successful ack (OutcomeAcked) of
//
//	1  → the ride is opened (persisted) and ride_started is appended;
//	73 → ride_paused;  75 → ride_resumed;
//	3  → ride_ended with EndedBy "cloud", and the ride is closed.
//
// A failed, timed-out or expired command changes nothing (the cloud saw
// that outcome too), except that a failed end of a vehicle that has already
// powered off by itself ends the ride as "vehicle" (below). Pause, resume
// and end acks of a ride the tracker does not hold (the cloud's word is
// enough) still produce their events. A start for a vehicle that holds
// another ride replaces it (the cloud only starts a ride on an available
// vehicle, so the old one is over there) and is logged.
//
// # Rides the gateway ends
//
//   - The scooter powers off while on a ride (a heartbeat 27 with c=1, or
//     the ack of a power off that is not this ride's cloud end — a
//     technician's, a rule's, an admin's): ride_ended, EndedBy "vehicle",
//     at the report's receive time — unless a cloud end of this ride (open
//     command 3 with Source "ride:<id>") is pending: its ack ends the ride
//     as "cloud"; if that end fails or times out, the ride ends as
//     "vehicle" at the time the power off was reported.
//   - The vehicle goes "lost" (no message for fleet.Options.LostAfter,
//     default 20 min): ride_ended, EndedBy "gateway", at the vehicle's
//     LastSeen (the last moment it was known to be riding; billing the
//     silent minutes would charge the rider for the gateway's blindness).
//     Going offline alone ends nothing: scooters reconnect mid-ride.
//
// Zone rules apply to powered-on vehicles (rules: Fix.Powered). After a
// gateway restart the live state starts empty, so until a vehicle's first
// heartbeat its power is unknown and the rules would skip its fixes;
// WrapRules treats a vehicle with an open ride and unknown power as
// powered on, so the rules apply during the whole ride.
//
// # Durability and order
//
// Open rides live in the bbolt bucket "ridetrack.rides" of the gateway's
// file (key: vehicle number; value: a versioned JSON record). A start is
// persisted BEFORE its ride_started event is appended; an end's ride_ended
// event is appended durably (outbox Append, which returns after the fsync)
// BEFORE the ride is deleted. So a crash at any point never loses an
// end: the worst case is a ride still open after the restart whose end is
// reported again (the cloud bills a still-open ride from the first
// ride_ended and ignores the rest). Events are never dropped or
// downsampled: they go to the outbox's event class.
//
// # Concurrency
//
// All methods are safe for concurrent use. opMu serialises the
// state-changing operations (bbolt write, then outbox append) so the
// persisted state and the event order agree; mu guards the in-memory map
// and is held only for map access. The per-report path (WrapRules) takes no
// lock unless a ride is open and the report changed the vehicle's power
// (or its power is unknown). Nothing here starts a goroutine. The appends
// block the caller until the outbox commits (a few ms): callers are the
// command manager's event sink, the ingest's rules hook and the fleet
// sweeper, each on its own goroutine, and rides change rarely.
package ridetrack

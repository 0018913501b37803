package gateway

import (
	"github.com/fleetedge/fleetedge/edge/internal/ridetrack"
)

// newRides builds the ride tracker (package ridetrack) on the gateway's bbolt
// file (bucket ridetrack.rides): it needs the outbox, the live state and the
// command queue, and must exist before the ingest (its rules hook wraps the
// zone rules) and before anything emits command events. The hooks in
// gateway.go:
//
//   - the command EventSink passes every event to OnCommandEvent after the
//     ingest queued it (the ride event follows its command_result);
//   - the ingest's Rules are WrapRules(zone rules): a power off reported
//     during a ride ends it, and a ride keeps the zone rules on after a
//     restart until the first heartbeat;
//   - the fleet sweeper passes its updates to OnFleetUpdate ("lost" ends a
//     ride).
//
// Ride events go through eventTap, so the field UI's vehicle history shows
// them like every other event. Appends are bounded by g.bg (cancelled at
// shutdown, after the broker has stopped).
func (g *Gateway) newRides() error {
	t, err := ridetrack.New(ridetrack.Config{
		DB: g.db, Store: eventTap{Store: g.outbox, history: g.history}, Vehicles: g.fleet, Commands: g.commands,
		Context: g.bg, Logger: g.log, Registerer: g.reg,
	})
	if err != nil {
		return err
	}
	g.rides = t
	return nil
}

// Rides returns the ride tracker (for tests and the local API).
func (g *Gateway) Rides() *ridetrack.Tracker { return g.rides }

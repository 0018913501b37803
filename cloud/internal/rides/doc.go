// Package rides owns a rider's ride from finding a scooter to the receipt: the nearby-vehicles
// index, the start of a ride by vehicle number or QR code (checks, atomic reservation, power-on
// through the city gateway, start on the scooter's ack), pause and resume (73/75) with their
// intervals, the end of a ride (zone checks, power-off, fare, route and ledger charge in one
// PostgreSQL transaction), ride history and receipts, the billing of rides the gateway ended
// while the cloud was unreachable (an event hook), and the admin suspension of a rider (which
// ends the rider's rides safely).
//
// # States
//
// A ride row is created 'starting' when the rider reserves a vehicle (the vehicle row is locked,
// must be 'available', and becomes 'reserved'); the unique index rides_one_open_per_vehicle
// (migration 00012) counts 'starting' as open, so of two riders racing for one scooter exactly
// one reservation commits. The ride becomes 'active' only on the scooter's successful ack of
// power-on (code 1, command id "<ride>:start", source "ride:<ride>"); a refusal, a timeout or an
// unreachable gateway cancels it ('cancelled', cancel_reason set): no ride, no charge, the
// vehicle is released. A rider holds at most one open ride (checked under the rider row's lock).
// 'paused' rides have an open row in ride_pauses; 'ended' rides carry the fare breakdown, the
// route (GeoJSON rebuilt from the ClickHouse fixes by package fare) and exactly one ledger
// ride_charge, written in the same transaction as the end (the ledger's unique index on the
// ride charge is the backstop: a second end is a no-op).
//
// # Gateway events (Service.HandleEvents)
//
//   - ride_ended for a ride still open in PostgreSQL ends and bills it at the event's time and
//     position, once (redeliveries find it ended). The out-of-zone fine applies when the end
//     position is not an allowed end, as for a rider who accepts it.
//   - ride_started for a ride still 'starting' (the ack came up the event stream before, or
//     instead of, the command reply) activates it at the event's time: the scooter is on, the
//     rider's request is still waiting or its reply was lost, and the ride the rider asked for
//     is running. For a ride already 'cancelled' (the API told the rider "no ride" after a
//     timeout), the ride stays cancelled and unbilled and the scooter gets a power-off (code 3,
//     id "<ride>:abort"): a rider who was told there is no ride must not be charged, and an
//     unlocked scooter without a ride must not stay unlocked.
//   - ride_paused / ride_resumed bring the pause intervals in line when the API did not record
//     them (the reply was lost). The k-th pause event of a ride (counted in vehicle_events,
//     where the ingest stores the batch before the hooks run) is pause number k, the number
//     the API used in the command id ("<ride>:pause:<k>"): an event for a pause the API
//     already recorded — even one arriving after the resume — adds nothing.
//
// A reservation left 'starting' (the process died between reserve and ack) is cancelled by the
// background sweeper after Config.StaleStartingAfter.
//
// # Nearby vehicles
//
// Index is an immutable snapshot (atomic pointer) rebuilt every Config.NearbyRefresh from the
// registry in PostgreSQL (vehicles 'available' in their city) joined with the live state
// (livestate: online, position, battery ≥ Config.MinStartBatteryPct), bucketed in a grid of
// 0.01° cells; a query visits only the cells of the radius's bounding box and keeps vehicles
// within the geodesic radius (shared/geo). A vehicle reserved since the last rebuild may still
// be listed for up to one refresh period; starting a ride re-checks everything.
//
// Estimated range: battery% / 100 × the model's full-charge range (Config.ModelRangeKm, else
// Config.DefaultRangeKm = 35 km), rounded down to 0.1 km — a nominal figure, not a prediction.
//
// # Metrics
//
// fleetedge_ride_starts_total{outcome}, fleetedge_rides_ended_total{reason},
// fleetedge_ride_unlock_seconds, fleetedge_nearby_index_vehicles, fleetedge_nearby_queries_total.
//
// # Concurrency
//
// Service is safe for concurrent use. Operations on one ride are serialised within a process
// by a striped mutex (so one rider's double tap sends one command), and across processes by the
// ride row's lock and conditional updates. Run owns the background goroutines (index refresh,
// sweeper, power-offs of aborted reservations) and returns when its context ends, after they stop.
package rides

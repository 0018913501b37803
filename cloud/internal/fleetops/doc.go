// Package fleetops owns the admin API's fleet operations: the live map of a city, a vehicle's
// detail (live state, recent telemetry from ClickHouse, recent events from PostgreSQL, its
// open ride) and route replay, any protocol command to one vehicle with the scooter's reply,
// bulk command jobs (e.g. lock every scooter of a zone) and firmware upgrade jobs, with their
// progress per vehicle (PostgreSQL tables of migration 00014).
//
// Routes (under /admin/v1/fleet, adminapi.Register):
//
//	GET  /cities/{city}/live                 vehicles.read     live map
//	GET  /vehicles/{number}                  vehicles.read     detail
//	GET  /vehicles/{number}/route            vehicles.read     route replay (GeoJSON RouteLineString + times)
//	POST /vehicles/{number}/commands         vehicles.command  one command, the scooter's reply
//	POST /cities/{city}/command-jobs         vehicles.command  bulk command job (202)
//	GET  /command-jobs/{id}                  vehicles.read     its progress and per-vehicle outcomes
//	POST /cities/{city}/firmware-jobs        firmware.manage   firmware upgrade job (202)
//	GET  /firmware-jobs/{id}                 firmware.manage   its progress per vehicle
//
// Invariants:
//   - A command is validated against the protocol registry (protocol.NewCommand) before it is
//     sent: unknown codes, scooter→server codes, the firmware exchange codes (23, 67: only
//     firmware jobs send them) and bad fields are a 422 naming the field; nothing is sent.
//   - Every write is audited in its own transaction with the change (jobs created); a command
//     is audited after the fact with its outcome (the scooter's reply, or why there is none),
//     also when the gateway could not be reached.
//   - A vehicle of a job is sent to at most once: a row is claimed (pending → sending, or
//     pending → dispatched) by a conditional UPDATE before the send, so two processes resuming
//     the same job never both send.
//   - Firmware progress comes only from the gateways' firmware events (EventHook), applied
//     idempotently: an event older than the newest applied to a row, or after the row ended,
//     changes nothing; a redelivered batch is a no-op.
//
// Deployment: commands need the process's link to the gateways (downlink, NATS). Without one
// (role api without an external NATS URL) a single command answers 503 unavailable; bulk and
// firmware jobs are stored and run by the sweep/dispatcher of a process that has the link.
// Firmware progress arrives through the event hook, which runs where the ingest runs. The
// live map reads the process's own live state (fed by its ingest): in role api it shows the
// registry with connectivity unknown.
//
// Concurrency: a Service is safe for concurrent use. Run (started by the cloud as a background
// task) owns the firmware dispatcher and the resumption of bulk jobs; bulk jobs created by a
// request run in goroutines under Run's context, at most Concurrency sends at once per job.
// Everything stops when Run's context ends (a send in flight is abandoned; its row stays
// "sending" and is closed as interrupted later).
package fleetops

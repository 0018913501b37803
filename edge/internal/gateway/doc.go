// Package gateway owns the city gateway as an application: its typed
// configuration (defaults that run with zero configuration, JSON file,
// environment and flags), the wiring of the broker (auth + ingest hooks),
// live fleet state, outbox and local configuration store, the HTTP
// endpoints (/healthz, /readyz, /metrics, the local JSON API under /api/v1
// and the field technicians' web UI under /ui/, package fieldui), and the
// start/stop order.
//
// # Data
//
// One bbolt file, <data_dir>/gateway.db, holds the outbox (outbox.* buckets)
// and the configstore (configstore.docs): documents "vehicles" (a
// link.VehiclesDoc), "zones" (a GBFS geofencing_zones.json) and
// "technicians" (the field UI's accounts: a link.TechniciansDoc pushed by the
// cloud, or a fieldui.AccountsDoc from a local file). A file given
// at start is validated, stored and applied; without one, the stored copy is
// used, so a gateway restarts with its last configuration while the cloud is
// unreachable. The open rides of the ride tracker (package ridetrack) are in
// ridetrack.rides, so a restart keeps them.
//
// # Lifecycle
//
// New validates the configuration, opens the data, loads the configuration
// and binds every listener (":0" gives a free port; Addrs reports it). Run
// serves until its context ends, then: /readyz reports "stopping", the broker
// closes its listeners and clients (a publish already waiting for the disk
// finishes and is acknowledged), the HTTP server drains. Close then closes
// the outbox (committing everything queued), the config store and the file.
// A SIGKILL at any point loses no acknowledged report: the ingest
// acknowledges a QoS 1 report only after its outbox transaction committed.
package gateway

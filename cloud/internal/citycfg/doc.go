// Package citycfg owns the cloud's registry of cities and what the city gateways are
// configured with: cities, their gateways, the vehicles (numbers, types, normal speed limits,
// device credential hashes), the zones (versioned GBFS v3 geofencing_zones documents) and the
// tariffs (versioned, with effective dates). It serves their admin API operations
// (Register) and pushes the resulting configuration documents (protocol/link ZonesDoc,
// VehiclesDoc, TariffsDoc) to each city's JetStream KV bucket through the downlink.
//
// # Invariants
//
//   - Every admin write runs in one transaction with its audit entry (audit.Record); a
//     change that cannot be audited is not made.
//   - Device secrets exist once: generated with shared/devicecred, returned in the create
//     (or rotate) response and never stored or logged; the database keeps the hash. The
//     import operation takes hashes only.
//   - A write that changes what a document is built from bumps that document's version in
//     city_config_docs in the same transaction (max(previous+1, unix ms), so versions stay
//     above what a gateway gave its local files). A document is a pure function of the
//     database state at its version (its "updated" time is the change's time), so two
//     builds of one version are byte-identical and a gateway never sees one version with
//     two contents.
//   - Zone versions per city are 1, 2, 3, …; a PUT validates the document with shared/zone
//     (plus speeds within 0–MaxZoneSpeedKmh) and publishes it at once: the highest version
//     is in force (there is no draft state). Rolling back is a PUT of the older document.
//   - Tariffs of a city never overlap in time (the table's exclusion constraint; a violation
//     is ErrTariffOverlap). Superseding closes the tariff in force at the new one's start in
//     the same transaction.
//
// # Pushing
//
// Pusher publishes pending documents (version above published_version). Handlers push
// synchronously after the commit when the downlink is up, so the response says whether the
// gateway's bucket has the change; otherwise (role api, NATS not started, NATS errors) the
// change stays pending and Pusher.Run, a background task, publishes it when it can: on
// every wake-up and every RetryInterval; and when the downlink first appears (cloud start)
// and every FullCheck it compares every document with its city's bucket and publishes the
// ones the bucket lacks or holds older (a lost NATS store), raising the database's version
// above the bucket's when the bucket is ahead (a database restored from a backup).
// Pushes of one process are serialised by a mutex; between processes the downlink's
// optimistic concurrency decides (ErrConflict is retried, ErrNotNewer re-reads the bucket).
// A process without NATS (role api) only stores changes: some process with a downlink must
// run a Pusher (NewPusher on the same database) for them to reach the gateways.
//
// # Read API for other areas
//
// CityByCode, CityByID, VehicleByNumber, CurrentZones and TariffAt read through any Querier
// (a pool or a transaction), for rides and the other areas.
package citycfg

// Package eventstore owns the vehicle_events table in PostgreSQL: the durable
// record of the gateways' events (ride events, alarms, command results, state
// changes, security and firmware events) that the cloud services act on.
//
// Insert is called by the ingest consumer (ingest.Config.OnEvents) for every
// event batch before the batch is acknowledged. It is idempotent on
// (gateway, seq): a redelivered, resent or overlapping batch stores each event
// once. Processing the events (rides, alarms) belongs to the services that
// read the table, not to this package.
package eventstore

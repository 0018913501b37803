// Package broker owns the gateway's embedded MQTT broker (mochi-mqtt): the one
// authoritative authentication/ACL hook and the ingest hook that turns scooter
// publishes into decoded messages, durable outbox records and rule evaluations.
//
// Invariants: a client is a vehicle authenticated by its own secret; it can neither
// publish as another vehicle (ACL on topics, plus the ingest hook's check of the
// payload's "i") nor read another vehicle's topic.
package broker

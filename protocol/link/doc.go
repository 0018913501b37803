// Package link defines the contract between city gateways and the cloud: the NATS
// subject, stream and key-value names, and the versioned messages that travel on them
// (telemetry and event batches up, command requests and results, configuration
// documents down).
//
// It is the one place those names and shapes live; both tiers import it and neither
// defines its own copy. Every message carries a schema version V; a receiver rejects a
// message whose major version it does not know (ErrVersion) instead of guessing.
//
// Identifiers that become NATS subject tokens (city and gateway ids) are validated by
// ParseCityID and ParseGatewayID, so a subject can never be widened by a '.', '*' or '>'
// smuggled in through configuration.
//
// Delivery is at least once. A record's identity is (gateway, seq): seq is the
// gateway-local outbox sequence, never reused, so consumers deduplicate on that pair
// beyond JetStream's duplicate window. The package does no I/O.
package link

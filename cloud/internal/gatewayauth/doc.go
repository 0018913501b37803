// Package gatewayauth owns who may connect to the cloud's NATS and what each connection may
// do: the roster of gateways (id, city, public NATS nkey) and full-rights services, loaded
// from a JSON file, and the per-gateway permissions derived from it.
//
// Why nkeys: nats-server authenticates an nkey user by a challenge signed with the user's
// Ed25519 seed, so the server (and this roster) holds only public keys — there is no password
// hash to steal and nothing secret in the cloud's configuration. Embedded nats-server supports
// nkey users without the JWT/operator machinery, and the same users and permissions can be
// written into a cluster's nats.conf (ServerConfig renders them).
//
// Invariants:
//   - A gateway of city C may publish only under fleet.up.C.> and call only the JetStream API
//     subjects that read its own configuration bucket (link.ConfigBucket(C)); it may never
//     publish to $KV.> (its configuration is read-only to it) nor touch any other stream.
//   - It may subscribe only to its command subject (link.CommandSubject(C)) and to its own
//     inbox namespace InboxPrefix(id): every gateway client must set that inbox prefix
//     (nats.CustomInboxPrefix), because the shared _INBOX.> namespace carries replies meant
//     for other gateways (configuration watches, publish acks) and for the cloud.
//   - Replies to the cloud's requests are allowed by response permissions (one reply per
//     request received, within ReplyTTL), never by a publish grant on _INBOX.>.
//   - Services (the cloud's own processes, operator tools) have no restrictions.
//   - Public keys and gateway ids are unique across the roster.
package gatewayauth

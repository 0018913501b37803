// Package natsbus owns the cloud's NATS JetStream: it either runs nats-server in-process
// (the default, one binary on one machine) or connects to an external NATS cluster, and in
// both cases makes sure the stream that receives everything gateways send up exists with the
// configured limits.
//
// Invariants:
//   - The stream (link.StreamUp on link.SubjectsUp) is file-backed, deduplicates on
//     Nats-Msg-Id within Stream.DuplicateWindow, and discards NEW messages when full: a gateway
//     whose publish is refused keeps the record in its bbolt outbox instead of the cloud
//     silently dropping old data nobody consumed yet.
//   - The embedded server fsyncs every write by default (FsyncInterval 0 = nats "sync_interval:
//     always"); nats-server's own default acknowledges before an fsync deferred up to 2 min.
//     With an external URL that durability is the NATS operator's setting (see deploy/).
//   - The embedded server installs no signal handlers and writes no global state; logs go to
//     the injected slog logger. Two buses can run in one process on different store dirs.
//   - The cloud's own connection to the embedded server is in-process (no TCP, no TLS); the
//     TCP client listener serves gateways and tools.
//   - With a roster file (EmbeddedConfig.Auth) every client signs in with an nkey: gateways get
//     only their city's subjects (gatewayauth), services and the cloud itself full rights. The
//     cloud's own nkey is generated at each start and never leaves memory. Without a roster
//     the listener is open, which Validate allows on a loopback host only.
package natsbus

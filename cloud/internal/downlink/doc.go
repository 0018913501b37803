// Package downlink owns what the cloud sends DOWN to city gateways over NATS:
// command requests (request/reply on link.CommandSubject(city), answered by the
// gateway's cloudlink with the scooter's outcome) and the cities'
// configuration documents (zones, vehicles, tariffs, technicians) in one
// JetStream KV bucket per city, link.ConfigBucket(city), keyed by
// link.ConfigZones, link.ConfigVehicles, link.ConfigTariffs and
// link.ConfigTechnicians.
//
// # Configuration
//
// PublishConfig validates a document (its link Validate, the city it names,
// zones through zone.Load) before anything is written, creates the city's
// bucket on first use (file storage, Config.History revisions per key, so an
// operator can see and restore recent documents), and writes with optimistic
// concurrency: the document's Version must be above the one stored, and the
// write is a KV Update on the revision that was read (Create when the key is
// new). Two admins publishing at once cannot overwrite each other silently:
// the loser gets ErrConflict (re-read, decide, publish again); a version that
// does not increase gets ErrNotNewer. Gateways watch their bucket and apply
// each new version (see edge/internal/cloudlink); one that was offline gets
// the latest document when it reconnects.
//
// # Commands
//
// SendCommand validates the request, sends it to the city's gateway and waits
// for its link.CommandResult for the request's own timeout_ms (or
// Config.DefaultTimeout when it has none) plus Config.Margin, so the gateway's
// own timeout answers first. No gateway of that city subscribed gives
// ErrNoGateway at once (NATS "no responders"); a gateway that does not answer
// in time gives ErrNoReply — the command may still have been sent, and its
// outcome then arrives as a command_result event through the uplink.
//
// # Concurrency
//
// A Downlink is safe for concurrent use. It caches the KeyValue handle of each
// city's bucket (guarded by mu); it starts no goroutine and owns neither the
// connection nor the JetStream context it is given.
package downlink

// Package cloudlink owns what comes DOWN from the cloud to a city gateway over
// NATS: command requests (request/reply on link.CommandSubject(city)) and the
// city's configuration (JetStream KV bucket link.ConfigBucket(city), keys
// link.ConfigZones, link.ConfigVehicles, link.ConfigTariffs,
// link.ConfigTechnicians). What goes up (telemetry and events) is
// edge/internal/uplink's; both use one *nats.Conn, dialled by uplink.Dial
// (reconnects forever with backoff and jitter and returns at once while the
// cloud is unreachable).
//
// # Commands
//
// Requests are taken by one queue subscription (group Config.QueueGroup, so a
// gateway being replaced by its successor never runs a command twice) and
// handed to a pool of Config.Workers goroutines through a queue of
// Config.Queue requests; a request that finds the queue full is answered at
// once with OutcomeRejected (ErrBusy) instead of being dropped silently. A
// worker decodes the JSON, checks link.CommandRequest.Validate, and calls
// CommandHandler.HandleRequest (command.Manager) with a context bounded by the
// request's timeout_ms + Config.ReplyGrace (Config.DefaultWait when it has
// none), then replies with the link.CommandResult as JSON. Anything malformed
// gets an OutcomeRejected reply carrying the error; a request without a reply
// subject is counted and dropped (nobody could learn its outcome).
//
// # Firmware upgrades
//
// A request on the same subject carrying the NATS header link.KindHeader =
// link.KindFirmware is a link.FirmwareRequest (the gateway's grants allow no other
// subject): a worker decodes and validates it (including the image's SHA-256) and, when
// Config.Commands implements FirmwareStarter (command.Manager does), starts the upgrade job
// with the request's job id, source and restart options, then answers at once with a
// link.FirmwareAccepted (accepted, or why not: malformed, an upgrade already running on the
// vehicle, a handler that cannot upgrade). The job reports its progress and outcome as
// link.EventFirmware events through the command manager's EventSink, like a job started
// locally. The job id must be unique per vehicle (the manager derives command ids from it).
//
// # Configuration
//
// One goroutine watches the bucket (including the current values at start)
// and handles one entry at a time:
//
//  1. decode and validate: the document's link Validate, its city must be
//     Config.City, zones through zone.Load (with Config.ZoneOptions, the same
//     the gateway uses at start);
//  2. version rules against the configstore copy: a version below the stored
//     one is rejected (ErrStaleVersion), the same version with the same bytes
//     is a no-op (a replay after reconnect), the same version with other bytes
//     is rejected (ErrVersionConflict);
//  3. Applier.PrepareConfig: the gateway's own checks, changing nothing;
//  4. configstore.Put (durable): what is stored is exactly what the gateway
//     loads at its next start (for zones, the GBFS document itself; for
//     vehicles, tariffs and technicians, the KV value), with Version = the
//     document's version;
//  5. the install function returned by PrepareConfig: an atomic swap (zones:
//     rules.SetZones swaps a pointer; evaluation never pauses).
//
// A document failing any step is logged, counted by kind and reason, and not
// applied: the gateway keeps its last good configuration. Deleting or purging
// a key in the cloud is ignored the same way (a gateway never drops its zones
// because a key vanished). After every (re)connection the watch is restarted,
// so a change made while the gateway was offline arrives as soon as it is back;
// replays of what is already stored are no-ops. While the bucket does not
// exist yet (no configuration published for the city), the watch is retried
// with backoff. A gateway starting offline runs on what the configstore holds
// (loaded by the gateway app before Run).
//
// # Wiring (edge/internal/gateway)
//
// The gateway dials once with uplink.Dial when a cloud URL is configured and
// builds the Link in New, after the command manager:
//
//	g.cloudlink, err = cloudlink.New(cloudlink.Config{
//		City: link.CityID(cfg.City), Conn: g.nc, Commands: g.commands, Store: g.config,
//		Applier: g, Workers: cfg.Cloud.CommandWorkers, DefaultWait: cfg.Cloud.CommandWait.D(),
//		Logger: log, Registerer: g.reg,
//	})
//
// Under the cloud's gateway permissions (a roster of gateway nkeys) the
// connection must also carry the gateway's nkey and its own inbox prefix,
// nats.CustomInboxPrefix("_INBOX.gw-<gateway id>"): JetStream API replies and
// the KV watch deliver there (uplink.Dial does not set them yet; the
// linkfixture command shows the options, tested from cloud/internal/downlink).
//
// Run starts g.cloudlink.Run on a child context and stops it (waiting for it)
// before the broker and the command manager close; Close closes g.nc last.
// The gateway implements Applier with its start-up path: zones → the
// zone.Set already loaded by the link goes to g.zones and rules.SetZones;
// vehicles → parseVehicles(u.Stored, city) then the directory swap and
// fleet.Register; tariffs → stored only; technicians → the field UI's
// accounts (fieldui.Accounts.Prepare, then its atomic swap).
//
// # Concurrency
//
// Run owns the subscription, the workers and the watch goroutine; all stop
// when its context ends and Run returns after they did (a watch stopped while
// disconnected finishes deleting its consumer in the background, bounded by
// the JetStream API timeout or the connection closing). A request being
// handled then is answered with HandleRequest's "stopped waiting" result (the
// command itself goes on in the command manager). Stats and the collector
// are safe for concurrent use. Applier.PrepareConfig and the install
// functions are called from the watch goroutine only, one at a time.
package cloudlink

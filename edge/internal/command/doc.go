// Package command owns the gateway's commands to scooters: one Manager that
// rules, the local UI and the cloud link (HandleRequest) all use; a queue per
// vehicle; publishing with the registry's QoS; matching replies; timeouts,
// retries and backoff; waiting for offline vehicles with an expiry; an
// outcome for every command, returned to the caller and emitted as a
// link.Event (command_result) to the EventSink; and firmware upgrade jobs
// (23/66/67/68/69) with observable progress.
//
// # Matching (PROTOCOL.md quirk 7)
//
// Acks carry no request id ("t" is only a nonce). A reply completes the
// OLDEST published, still open command of the same vehicle that expects its
// code (the registry's ExpectedReply: 13→14, 23→66, 67→68, …), whichever
// topic it came on. The one real correlator is honoured: a 68 matches only the
// 67 with its package serial x, so a late 68 can never acknowledge the next
// package. A reply that matches nothing is counted (Stats.Unmatched, metric
// fleetedge_command_unmatched_replies_total) and given to Config.OnUnmatched;
// unsolicited reports (19 fixes, 27 heartbeats, …) are not "unmatched".
// A 69 goes to the vehicle's running upgrade job.
//
// A reply whose "s" is a result code (0 ok; 1 fault, 2 upgrading, 3 too late)
// ends the command: 0 → OutcomeAcked, otherwise OutcomeFailed with a
// *StatusError — failures are final, not retried (the vehicle answered).
// Replies without "s", or whose "s" is a state (84 chain lock open/closed,
// 22 powered, 16), are success. Commands without a reply (20, 28, 58, 93)
// are acked once handed to the broker.
//
// # Lanes: at most one command per reply code in flight (default)
//
// Per vehicle, commands are published in acceptance order, but a command
// waits while Config.MaxInFlightPerCode (default 1) commands expecting the
// same reply code are awaiting theirs, and while MaxInFlightPerVehicle (8) are
// out. Commands with different reply codes proceed side by side. With one per
// code, a reply is never ambiguous while its command is open, and a command
// lost on the way can never be re-sent after (and so override) a newer one of
// its kind. Raising the limit keeps the oldest-first matching.
//
// # Retries, timeouts, expiry
//
// Each command class has a Policy (DefaultPolicies documents the choices):
// an attempt waits AttemptTimeout for the reply; then, while attempts remain
// (1 + Retries), the command is re-published after Backoff, doubled per retry
// up to MaxBackoff. Options.Timeout bounds the whole wait from the first
// publish across attempts; Options.Retries overrides the count. A reply that
// arrives during backoff, or for an earlier attempt, still completes the
// command. Ends with OutcomeTimeout when attempts or the deadline run out.
//
// A command is published only while its vehicle is online (VehicleOnline /
// VehicleOffline from the broker hooks; unknown vehicles are offline). An
// unpublished command waits until Options.Expires (default: now + the
// policy's OfflineTTL) and then ends with OutcomeExpired. A re-publish due
// while the vehicle is offline uses up its attempt slot unpublished and is
// made up as soon as the vehicle comes back.
//
// # Supersede (newest wins)
//
// Policies may name a Group (13 speed limit; 1/3 power; 73/75 pause; 105/107
// motor lock; 60/62 battery lock). A newer command of a group ends the older
// ones of that group that are not published yet (OutcomeRejected,
// ErrSuperseded — rules send 13 on every zone change, only the latest limit
// matters) or wait to be re-published (OutcomeTimeout, ErrSuperseded). One
// that is awaiting its reply right now keeps its chance to be acknowledged,
// but it is never re-published once a newer one exists — so an old power on
// cannot unlock a scooter after the power off that ended the ride.
//
// # Firmware jobs
//
// StartUpgrade runs 23 (66 s=0 may upgrade, s=1 refused → failed), then each
// 1024-byte package as 67 with serial x from 0 (68 s=0 next, s=1 resend the
// same), then waits for the unsolicited 69 (s=0 succeeded, s=1 failed). More
// than MaxPackageFailures (5) failures of one package mean the module
// reboots: the job starts over from 23 after RestartDelay, as it does when
// the vehicle disconnects mid-upgrade or a package gets no reply after its
// retries; after MaxRestarts restarts it fails. Packages go through the
// Manager (same queue, QoS, timeouts, serial-checked matching, offline
// handling) with Options.NoEvent; the job emits link.FirmwareEvent events at
// the start, every ProgressEvery packages, at each restart and at the end.
//
// # Concurrency contract
//
// All methods are safe for concurrent use and none waits for the network:
// Send, OnReply, VehicleOnline/Offline only take Manager.mu briefly, so the
// MQTT ingest goroutine can call them (OnReply takes no lock at all for
// unsolicited reports while no command awaits their code, e.g. GPS fixes).
// Manager.mu guards all queues and entries; outQueue.mu and Upgrade.mu are
// leaf locks taken under it; encMu serialises protocol.EncodeCommand, which
// writes into the command value it encodes, so callers may pass one command
// value for many vehicles. A command value must not be modified after Send.
//
// Connectivity input must describe the vehicle's current session: the
// caller (the ingest hook) reports VehicleOnline when the scooter has
// subscribed to its own topic, and VehicleOffline only for the end of the
// session that is still current (mochi ends a taken-over session after the
// new one may already be up). The
// EventSink, Config.OnUnmatched and Config.KnownVehicle are called with no
// manager lock held, from whichever goroutine decided (a Send caller, the
// ingest goroutine, a clock timer, a job goroutine): they must not block for
// long and may call back into the Manager.
//
// Goroutines: New starts one publisher goroutine, the only caller of
// Publisher.Publish, so commands leave in the order they were decided; each
// upgrade job runs in one goroutine; timers are Clock.AfterFunc callbacks.
// Close cancels the jobs, ends every open command (ErrClosed; events
// emitted), stops the publisher and waits for all of them. Close the Manager
// before the outbox its EventSink writes to.
//
// A command's event is handed to the EventSink before its Pending completes,
// so a caller that sees an outcome knows the event is on its way to the
// outbox. Open, Upgrades and UpgradeOf expose what is in progress (local UI).
package command

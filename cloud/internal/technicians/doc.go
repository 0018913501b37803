// Package technicians owns the field technicians' accounts of each city (tables technicians
// and technician_docs, migration 00015): the admin API to create them (with a password),
// reset their password, disable, enable, delete and list them, and the publication of each
// city's accounts to its gateway as a link.TechniciansDoc (key link.ConfigTechnicians of the
// city's configuration bucket, through package downlink). The gateway caches the document
// and verifies logins to its field UI offline (edge/internal/fieldui).
//
// Invariants:
//   - Passwords are never stored or sent: they are NFC-normalised and hashed with argon2id
//     by account.Hasher (the rider accounts' hasher, bounded concurrency); the PHC string is
//     what the document carries, and the gateway verifies the same way.
//   - Usernames are unique per city and follow link.ValidTechnicianUsername (the gateway's
//     rule); the database checks both.
//   - Every change runs in one transaction that also records the audit entry
//     (technician.create, technician.password_reset, technician.disable, technician.enable,
//     technician.delete) and raises the city's document version in technician_docs, which
//     locks the city's row: changes of one city are serialised, and a document built later
//     sees every change of its version (built in a repeatable-read snapshot).
//   - Only active technicians are in the document: disabling or deleting one removes them,
//     and the gateway ends their sessions; a password reset changes their hash, which also
//     ends their sessions there. A city has at most link.MaxTechnicians active technicians
//     (beyond, the document would not validate and could never reach the gateway).
//   - Publication is at-least-once and idempotent: after each change the API pushes the
//     city's document at once (bounded by PushTimeout); what could not be published (no
//     downlink in role api or before NATS is up, NATS unreachable) stays pending
//     (version > published_version) and the Pusher (Service.Run, a background task) retries
//     every RetryInterval, and compares every city's document with its bucket when the
//     downlink first appears and every FullCheck (a bucket lost or rebuilt gets the
//     document again). Versions are max(previous + 1, unix ms), above the small versions of
//     a gateway's local accounts file.
//
// Permissions: every route requires vehicles.manage (technician accounts give physical
// access to scooters: battery and lock commands in the field UI).
package technicians

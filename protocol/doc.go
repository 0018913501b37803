// Package protocol owns the scooter wire protocol of PROTOCOL.md (the
// vendor's "Fitrider-style" JSON over MQTT): one typed Go value per message,
// the registry of codes, command encoding for the firmware, tolerant decoding
// of everything scooters send, and the scooter side (command decoding and
// report encoding, with the vendor's quirks) for the simulator. It imports
// nothing else of fleetedge and does no I/O. (The edge↔cloud messages live
// in the subpackage link.)
//
// # Messages
//
// Every code of PROTOCOL.md has a type: commands (server→scooter, e.g.
// *SetSpeedLimit, *PowerOn) implement Command; replies and unsolicited
// reports (scooter→server, e.g. *Heartbeat, *GPSReport, *SetSpeedLimitReply)
// implement Report, which exposes the sender (Vehicle) and which fields the
// payload carried (Fields). Deprecated 33 and removed 55/57 are included.
// The registry (Lookup, Specs, ExpectedReply, ReplyTo) describes every code:
// name, direction, topic, QoS, reply code, fields with meaning, type, unit
// and valid range, deprecated/removed flags.
//
// # Encoding
//
// EncodeCommand writes what the firmware expects: compact JSON, "a" first,
// then the fields in registry order, strings quoted but not escaped (53's
// AT+QICSGP string carries its quotes raw, as in the sheet); the topic is the
// vehicle number and the QoS the registry's. Constructors (NewSetSpeedLimit,
// NewSetAPN, ...) and the generic NewCommand(code, fields) validate ranges and
// string shapes and return *ValidationError. 67's package data d is carried as
// lowercase hex (the sheet is silent): a 1024-byte package is 2048 characters.
//
// EncodeReport writes scooter messages, with Quirks to reproduce the vendor's
// deviations byte for byte (unquoted strings, raw quotes, trailing comma, IMEI
// as a number, decimals, empty values, three-element g). A quirk is applied
// only where Decode is guaranteed to read the value back unchanged.
//
// # Decoding and the quirk policy
//
// Decode(topic, payload) accepts the vendor's dialect, not just JSON: values
// that should be strings arriving unquoted (even containing commas and
// colons), unescaped quotes inside strings, trailing commas, fields with no
// value (treated as absent), decimals where integers are documented (r is a
// float; integer fields accept a zero fraction such as 12.0), 16-digit IMEIs as
// JSON numbers (kept as exact digit strings), replies on "o" or on the vehicle
// topic, unknown extra fields (ignored, even nested), and the codes of
// removed firmware. The rule that makes the quirks decidable: a value ends
// at a comma followed by something shaped like the next key (`"k":` or
// `k:`) or by the final '}', or at the final '}' itself.
//
// Values are then checked against the registry; anything else is a
// *DecodeError whose Kind (ErrSyntax, ErrUnknownCode, ErrMissingField,
// ErrRange, ErrFormat, ErrTopic, ErrDirection, ErrTooLarge...) works with
// errors.Is and which names the field and the byte offset. Reply and report
// fields are optional (the firmware omits and empties them): Header.Present
// says which arrived. "i" is required on bike/o; on a vehicle topic it may be
// absent and must otherwise equal the topic. 58's "i" is ring milliseconds,
// not the vehicle; 19's "t" is GPS time while on acks "t" is a nonce.
//
// # Invariants
//
//   - Decode and DecodeCommand never panic and do work linear in the payload,
//     which is capped at MaxPayload (8 KiB; the largest legitimate messages,
//     67 with 1024 bytes of data and 78 with six 1024-byte log strings, fit).
//   - A successfully decoded message re-encodes (normal form or any Quirks)
//     to bytes that decode to an equal value; the fuzz targets check this.
//   - Coordinates are kept at the resolution of NMEA ddmm.mmmm (1e-4 minute),
//     so ParseGPS and FormatGPS are exact inverses.
//   - The registry is immutable; Lookup and Specs return copies. The package
//     has no other state and is safe for concurrent use.
//
// # Speed
//
// Decoding is a hand-written scanner over the payload (no encoding/json, no
// reflection, no maps): Decode makes 2 allocations per message (the value and
// its vehicle number); a Decoder kept per connection reuses its heartbeat and
// GPS values and the last vehicle number and makes none. Encoding appends to
// a caller's buffer without allocating. See bench_test.go.
package protocol

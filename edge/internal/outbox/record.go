package outbox

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"
	"unicode/utf8"
)

// Class says what the outbox may do with a record when it is full.
type Class uint8

const (
	// ClassTelemetry records (GPS, heartbeat, battery, …) may be dropped, oldest
	// first, when the outbox exceeds its bound.
	ClassTelemetry Class = 1
	// ClassEvent records (ride, billing, alarm, command results) are never
	// dropped by the outbox; only Delete/DeleteThrough remove them.
	ClassEvent Class = 2
)

// String returns "telemetry", "event" or "class(N)".
func (c Class) String() string {
	switch c {
	case ClassTelemetry:
		return "telemetry"
	case ClassEvent:
		return "event"
	default:
		return fmt.Sprintf("class(%d)", uint8(c))
	}
}

// Valid reports whether c is one of the defined classes.
func (c Class) Valid() bool { return c == ClassTelemetry || c == ClassEvent }

// Field limits enforced by Append.
const (
	MaxVehicleLen = 255
	MaxKindLen    = 255
)

// Record is one unit of store-and-forward. The caller fills everything but
// Seq and Appended, which the outbox assigns.
type Record struct {
	// Seq is assigned by the outbox at commit: strictly increasing per
	// outbox file, never reused (not after deletions, drops or restarts).
	Seq uint64
	// Class decides the drop policy.
	Class Class
	// Time is the caller's time of the record (e.g. the scooter's fix time or
	// the gateway's receive time); the zero value is preserved as zero.
	Time time.Time
	// Appended is the gateway clock when Append was called; set by the outbox.
	Appended time.Time
	// Vehicle is the vehicle number the record is about ("" for gateway-wide records).
	Vehicle string
	// Kind says what the record is (e.g. "gps", "heartbeat", "ride.end");
	// the uplink maps it to a subject.
	Kind string
	// Payload is opaque to the outbox.
	Payload []byte
}

// Stored value layout, version 1 (the key is the 8-byte big-endian seq):
//
//	[0]    format version (1)
//	[1]    class
//	[2]    flags: bit 0 = Time is set
//	varint Appended, Unix nanoseconds
//	varint Time, Unix nanoseconds (only when flag bit 0)
//	uvarint len(Vehicle), Vehicle bytes
//	uvarint len(Kind), Kind bytes
//	Payload bytes (the rest, up to the checksum)
//	4 bytes CRC-32C (Castagnoli), little endian, of everything before it
const (
	formatV1    = 1
	flagHasTime = 1 << 0
	headerLen   = 3
	crcLen      = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// validate checks the caller-supplied fields of r.
func validate(r *Record, maxPayload int) error {
	switch {
	case !r.Class.Valid():
		return fmt.Errorf("%w: class %d", ErrInvalidRecord, uint8(r.Class))
	case len(r.Vehicle) > MaxVehicleLen:
		return fmt.Errorf("%w: vehicle longer than %d bytes", ErrInvalidRecord, MaxVehicleLen)
	case len(r.Kind) > MaxKindLen:
		return fmt.Errorf("%w: kind longer than %d bytes", ErrInvalidRecord, MaxKindLen)
	case !utf8.ValidString(r.Vehicle) || !utf8.ValidString(r.Kind):
		return fmt.Errorf("%w: vehicle or kind is not valid UTF-8", ErrInvalidRecord)
	case maxPayload > 0 && len(r.Payload) > maxPayload:
		return fmt.Errorf("%w: payload %d bytes, limit %d", ErrRecordTooLarge, len(r.Payload), maxPayload)
	case !r.Time.IsZero() && !fitsUnixNano(r.Time):
		return fmt.Errorf("%w: time %s out of range", ErrInvalidRecord, r.Time)
	}
	return nil
}

var (
	minNano = time.Unix(0, math.MinInt64)
	maxNano = time.Unix(0, math.MaxInt64)
)

func fitsUnixNano(t time.Time) bool { return !t.Before(minNano) && !t.After(maxNano) }

// encode appends the stored form of r (without Seq) to dst.
func encode(dst []byte, r *Record, appended time.Time) []byte {
	var flags byte
	if !r.Time.IsZero() {
		flags |= flagHasTime
	}
	dst = append(dst, formatV1, byte(r.Class), flags)
	dst = binary.AppendVarint(dst, appended.UnixNano())
	if flags&flagHasTime != 0 {
		dst = binary.AppendVarint(dst, r.Time.UnixNano())
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Vehicle)))
	dst = append(dst, r.Vehicle...)
	dst = binary.AppendUvarint(dst, uint64(len(r.Kind)))
	dst = append(dst, r.Kind...)
	dst = append(dst, r.Payload...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst, castagnoli))
}

// encodedLen is an upper bound of len(encode(r)) used to size buffers.
func encodedLen(r *Record) int {
	return headerLen + 2*binary.MaxVarintLen64 + 2*binary.MaxVarintLen16 +
		len(r.Vehicle) + len(r.Kind) + len(r.Payload) + crcLen
}

// decode parses a stored value. It copies everything out of b, so b may be
// bbolt memory that is only valid during the transaction.
func decode(seq uint64, b []byte) (Record, error) {
	bad := func(why string) (Record, error) {
		return Record{}, &CorruptRecordError{Seq: seq, Reason: why}
	}
	if len(b) < headerLen+1+crcLen {
		return bad("value too short")
	}
	body, sum := b[:len(b)-crcLen], binary.LittleEndian.Uint32(b[len(b)-crcLen:])
	if crc32.Checksum(body, castagnoli) != sum {
		return bad("checksum mismatch")
	}
	if body[0] != formatV1 {
		return bad(fmt.Sprintf("unknown format version %d", body[0]))
	}
	r := Record{Seq: seq, Class: Class(body[1])}
	if !r.Class.Valid() {
		return bad(fmt.Sprintf("unknown class %d", body[1]))
	}
	flags := body[2]
	p := body[headerLen:]
	app, n := binary.Varint(p)
	if n <= 0 {
		return bad("bad appended time")
	}
	r.Appended = time.Unix(0, app)
	p = p[n:]
	if flags&flagHasTime != 0 {
		t, n := binary.Varint(p)
		if n <= 0 {
			return bad("bad time")
		}
		r.Time = time.Unix(0, t)
		p = p[n:]
	}
	var s string
	var ok bool
	if s, p, ok = readString(p); !ok {
		return bad("bad vehicle")
	}
	r.Vehicle = s
	if s, p, ok = readString(p); !ok {
		return bad("bad kind")
	}
	r.Kind = s
	r.Payload = append([]byte(nil), p...)
	return r, nil
}

func readString(p []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(p)
	if n <= 0 || l > uint64(len(p)-n) {
		return "", nil, false
	}
	return string(p[n : n+int(l)]), p[n+int(l):], true
}

// peekAppended returns the Appended time of a stored value without a full decode.
func peekAppended(b []byte) (time.Time, bool) {
	if len(b) < headerLen+1+crcLen || b[0] != formatV1 {
		return time.Time{}, false
	}
	app, n := binary.Varint(b[headerLen : len(b)-crcLen])
	if n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, app), true
}

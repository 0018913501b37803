package protocol

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrorKind classifies every error this package returns. It is itself an
// error, so callers test with errors.Is(err, protocol.ErrRange); the details
// (code, field, offset) are in *DecodeError or *ValidationError (errors.As).
type ErrorKind uint8

// The kinds of errors.
const (
	// ErrTooLarge: the payload exceeds MaxPayload, or an encoded message would.
	ErrTooLarge ErrorKind = iota + 1
	// ErrSyntax: the bytes are not even the vendor's tolerant JSON dialect,
	// or a value is not a number where one is required.
	ErrSyntax
	// ErrUnknownCode: field "a" is not a code of PROTOCOL.md.
	ErrUnknownCode
	// ErrMissingField: a required field ("a", "i" on bike/o, command fields) is absent or empty.
	ErrMissingField
	// ErrUnknownField: NewCommand was given a field the command does not have.
	ErrUnknownField
	// ErrType: a value has the wrong JSON shape (object/array, string for a number, ...).
	ErrType
	// ErrRange: a value lies outside the range documented in the registry.
	ErrRange
	// ErrFormat: a string does not have its documented shape (APN, server
	// parameters, GPS, hex data, vehicle number, ...).
	ErrFormat
	// ErrTopic: the MQTT topic is neither bike, o nor a valid vehicle number,
	// or "i" disagrees with the vehicle topic.
	ErrTopic
	// ErrDirection: a server→scooter code arrived on bike/o, or a scooter→server
	// code was given where a command is expected (or the reverse).
	ErrDirection
)

var kindNames = [...]string{
	ErrTooLarge:     "payload too large",
	ErrSyntax:       "syntax error",
	ErrUnknownCode:  "unknown message code",
	ErrMissingField: "missing field",
	ErrUnknownField: "unknown field",
	ErrType:         "wrong value type",
	ErrRange:        "value out of range",
	ErrFormat:       "malformed value",
	ErrTopic:        "bad topic",
	ErrDirection:    "wrong direction",
}

func (k ErrorKind) Error() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return "protocol: " + kindNames[k]
	}
	return "protocol: error kind " + strconv.Itoa(int(k))
}

// DecodeError reports why a payload (or a GPS string) could not be decoded.
// Offset is the byte offset in the payload where the problem was seen (-1 when
// not applicable); Field is the JSON key ("" when not about one field); Code is
// the message code when it was already known (0 otherwise).
type DecodeError struct {
	Kind   ErrorKind
	Code   Code
	Field  string
	Offset int
	Msg    string
}

func (e *DecodeError) Error() string {
	s := "protocol: decode"
	if e.Code != 0 {
		s += " a=" + strconv.Itoa(int(e.Code))
	}
	if e.Field != "" {
		s += " field " + strconv.Quote(e.Field)
	}
	if e.Offset >= 0 {
		s += " at offset " + strconv.Itoa(e.Offset)
	}
	s += ": " + kindNames[e.Kind]
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Unwrap returns the Kind so that errors.Is(err, ErrRange) works.
func (e *DecodeError) Unwrap() error { return e.Kind }

// ValidationError reports an invalid value given to a command constructor,
// NewCommand or an encoder.
type ValidationError struct {
	Kind  ErrorKind
	Code  Code
	Field string
	Msg   string
}

func (e *ValidationError) Error() string {
	s := "protocol: invalid"
	if e.Code != 0 {
		s += " a=" + strconv.Itoa(int(e.Code))
	}
	if e.Field != "" {
		s += " field " + strconv.Quote(e.Field)
	}
	s += ": " + kindNames[e.Kind]
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Unwrap returns the Kind so that errors.Is(err, ErrRange) works.
func (e *ValidationError) Unwrap() error { return e.Kind }

func invalid(kind ErrorKind, code Code, field string, format string, args ...any) *ValidationError {
	return &ValidationError{Kind: kind, Code: code, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// asValidation turns a decode-side error into the ValidationError that
// constructors return (offsets mean nothing to a caller that built no payload).
func asValidation(err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return &ValidationError{Kind: de.Kind, Code: de.Code, Field: de.Field, Msg: de.Msg}
	}
	return err
}

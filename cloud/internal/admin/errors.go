package admin

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors; check with errors.Is.
var (
	ErrInvalidInput       = errors.New("admin: invalid input")
	ErrWeakPassword       = errors.New("admin: weak password")
	ErrInvalidCredentials = errors.New("admin: invalid email or password")
	ErrLocked             = errors.New("admin: account locked")
	ErrTOTPInvalid        = errors.New("admin: wrong TOTP code")
	ErrTOTPReplay         = errors.New("admin: TOTP code already used")
	ErrChallengeInvalid   = errors.New("admin: login challenge invalid or expired")
	ErrUnauthenticated    = errors.New("admin: session invalid or expired")
	ErrForbidden          = errors.New("admin: forbidden")
	ErrSelfChange         = errors.New("admin: cannot change own roles or status")
	ErrLastSuperAdmin     = errors.New("admin: the last active super_admin must remain")
	ErrEmailTaken         = errors.New("admin: email already in use")
	ErrNotFound           = errors.New("admin: not found")
	ErrUnknownRole        = errors.New("admin: unknown role")
	ErrTOTPEnabled        = errors.New("admin: TOTP already enabled")
	ErrTOTPNotEnrolling   = errors.New("admin: no TOTP enrolment in progress")
)

// FieldError names the input field that is wrong; it wraps ErrInvalidInput or ErrWeakPassword.
type FieldError struct {
	Field, Reason string
	err           error
}

func (e *FieldError) Error() string { return fmt.Sprintf("%v: %s %s", e.err, e.Field, e.Reason) }
func (e *FieldError) Unwrap() error { return e.err }

func invalid(field, reason string) error {
	return &FieldError{Field: field, Reason: reason, err: ErrInvalidInput}
}

// LockedError says until when an account is locked; it wraps ErrLocked.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("%v until %s", ErrLocked, e.Until.UTC().Format(time.RFC3339))
}
func (e *LockedError) Unwrap() error { return ErrLocked }

// ForbiddenError explains a refusal; it wraps ErrForbidden.
type ForbiddenError struct {
	// Missing are the permissions the actor would need and lacks (may be empty).
	Missing []Permission
	Reason  string
}

func (e *ForbiddenError) Error() string {
	s := ErrForbidden.Error() + ": " + e.Reason
	if len(e.Missing) > 0 {
		ms := make([]string, len(e.Missing))
		for i, m := range e.Missing {
			ms[i] = string(m)
		}
		s += " (missing " + strings.Join(ms, ", ") + ")"
	}
	return s
}
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

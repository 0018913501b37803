package chstore

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidDSN means the DSN could not be parsed.
	ErrInvalidDSN = errors.New("chstore: invalid DSN")
	// ErrInvalidRow means a row given to an Insert* method failed validation; the whole batch
	// was rejected and nothing was written. The concrete error is a *RowError.
	ErrInvalidRow = errors.New("chstore: invalid row")
	// ErrInvalidQuery means a query's arguments are unusable (empty city, inverted window…).
	ErrInvalidQuery = errors.New("chstore: invalid query arguments")
	// ErrSchemaTooNew means the database holds migrations this binary does not know: an older
	// binary is running against a newer schema.
	ErrSchemaTooNew = errors.New("chstore: database schema is newer than this binary")
)

// RowError says which row of a batch is invalid and why. It matches ErrInvalidRow.
type RowError struct {
	Table  string // telemetry, events or commands
	Index  int    // position in the batch
	Field  string // Go field name
	Reason string
}

func (e *RowError) Error() string {
	return fmt.Sprintf("chstore: invalid %s row %d: %s: %s", e.Table, e.Index, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidRow) hold.
func (e *RowError) Unwrap() error { return ErrInvalidRow }

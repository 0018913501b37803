package fare

import "errors"

// Sentinel errors; every error Compute returns wraps one of them.
var (
	// ErrInvalidTariff: a negative price, a malformed currency, a surcharge
	// without a zone id or listed twice.
	ErrInvalidTariff = errors.New("fare: invalid tariff")
	// ErrInvalidRide: end before start, a pause ending before it begins, a
	// non-finite or negative length or zone minutes.
	ErrInvalidRide = errors.New("fare: invalid ride")
	// ErrOverflow: an amount does not fit in int64 minor units.
	ErrOverflow = errors.New("fare: amount out of range")
)

package rides

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// vehicleNumberRE is the vehicles table's rule for a vehicle number (migration 00004).
var vehicleNumberRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// MaxVehicleRef bounds what a rider may send as a vehicle reference.
const MaxVehicleRef = 256

// ParseVehicleRef returns the vehicle number a rider scanned or typed: the number itself
// ("12AB"), or the QR code's URL whose path ends in /v/<number>
// ("https://ride.example.com/v/12AB", query and fragment ignored).
func ParseVehicleRef(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" || len(ref) > MaxVehicleRef {
		return "", fmt.Errorf("%w: vehicle: must be 1-%d characters", ErrInvalidInput, MaxVehicleRef)
	}
	if vehicleNumberRE.MatchString(ref) {
		return ref, nil
	}
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%w: vehicle: not a vehicle number or a vehicle QR URL", ErrInvalidInput)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 || parts[len(parts)-2] != "v" || !vehicleNumberRE.MatchString(parts[len(parts)-1]) {
		return "", fmt.Errorf("%w: vehicle: the QR URL does not end in /v/<vehicle number>", ErrInvalidInput)
	}
	return parts[len(parts)-1], nil
}

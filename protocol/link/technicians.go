package link

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TechniciansDoc lists the field technicians who may log in to the city
// gateway's web UI (key ConfigTechnicians of the city's ConfigBucket). Only
// active technicians are listed: a technician disabled or deleted in the
// cloud is absent, and the gateway ends their sessions. Passwords never
// travel, only their argon2id hashes, so the gateway verifies logins while
// the cloud is unreachable.
type TechniciansDoc struct {
	V           int          `json:"v"`
	City        CityID       `json:"city"`
	Version     int64        `json:"version"` // increases with every change of the city's technicians
	Updated     time.Time    `json:"updated"`
	Technicians []Technician `json:"technicians"`
}

// Technician is one field technician's account as the gateway sees it.
type Technician struct {
	// Username is the login name, unique in the city: 1-64 of a-z 0-9 . _ @ -,
	// starting with a letter or digit.
	Username string `json:"username"`
	// Name is shown in the UI and its audit events.
	Name string `json:"name,omitempty"`
	// PasswordHash is an argon2id PHC string
	// ("$argon2id$v=19$m=…,t=…,p=…$salt$key", unpadded base64).
	PasswordHash string `json:"password_hash"`
}

// Bounds of a TechniciansDoc (a document must stay far below NATS' 1 MiB
// max_payload: ~200 bytes per technician).
const (
	MaxTechnicians      = 2000
	MaxTechnicianName   = 200
	maxTechnicianUser   = 64
	maxHashMemoryKiB    = 1 << 18 // argon2id m bound a gateway accepts (256 MiB)
	maxHashTime         = 20
	maxHashThreads      = 16
	technicianUserExtra = "._@-"
)

// ValidTechnicianUsername reports whether s can be a technician's username.
func ValidTechnicianUsername(s string) bool {
	if len(s) == 0 || len(s) > maxTechnicianUser {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && strings.IndexByte(technicianUserExtra, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// checkPHC checks the shape of an argon2id PHC string and that its costs are
// within what a gateway accepts to compute (the gateway decodes it fully).
func checkPHC(s string) error {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" || parts[4] == "" || parts[5] == "" {
		return fmt.Errorf("not an argon2id PHC string")
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || seen[k] {
			return fmt.Errorf("argon2id parameters %q", parts[3])
		}
		seen[k] = true
		switch {
		case k == "m" && n >= 8 && n <= maxHashMemoryKiB:
		case k == "t" && n >= 1 && n <= maxHashTime:
		case k == "p" && n >= 1 && n <= maxHashThreads:
		default:
			return fmt.Errorf("argon2id parameter %s=%s out of bounds", k, v)
		}
	}
	if len(seen) != 3 {
		return fmt.Errorf("argon2id parameters %q: want m, t and p", parts[3])
	}
	return nil
}

// Validate checks the envelope and every technician: usernames valid and
// unique, names bounded, hashes argon2id within bounds.
func (d *TechniciansDoc) Validate() error {
	if err := checkDoc(d.V, d.City, d.Version); err != nil {
		return err
	}
	if len(d.Technicians) > MaxTechnicians {
		return fmt.Errorf("%w: %d technicians, at most %d", ErrInvalid, len(d.Technicians), MaxTechnicians)
	}
	seen := make(map[string]bool, len(d.Technicians))
	for i, t := range d.Technicians {
		switch {
		case !ValidTechnicianUsername(t.Username):
			return fmt.Errorf("%w: technician %d: username %q (want 1-64 of a-z 0-9 . _ @ -)", ErrInvalid, i, t.Username)
		case seen[t.Username]:
			return fmt.Errorf("%w: technician %q listed twice", ErrInvalid, t.Username)
		case len([]rune(t.Name)) > MaxTechnicianName:
			return fmt.Errorf("%w: technician %q: name longer than %d characters", ErrInvalid, t.Username, MaxTechnicianName)
		}
		if err := checkPHC(t.PasswordHash); err != nil {
			return fmt.Errorf("%w: technician %q: password hash: %v", ErrInvalid, t.Username, err)
		}
		seen[t.Username] = true
	}
	return nil
}

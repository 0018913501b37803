package fieldui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// ErrHash reports a stored password hash that is not an argon2id PHC string
// within sane cost bounds (an absurd cost would make every login a DoS).
var ErrHash = errors.New("fieldui: malformed password hash")

// Argon2Params are the argon2id costs of new hashes. Verification reads the
// parameters from the stored string, so hashes made by the cloud with other
// costs keep working.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultArgon2 is m=64 MiB, t=3, p=2: about 100 ms on the gateway's class of
// machine, and the cloud's account hashes use the same format.
var DefaultArgon2 = Argon2Params{MemoryKiB: 64 * 1024, Time: 3, Threads: 2}

const (
	saltLen = 16
	keyLen  = 32
	// Bounds accepted when parsing a stored hash (with MaxConcurrentVerify
	// checks at once, at most 512 MiB of argon2id memory on the gateway; the
	// same bounds as link.TechniciansDoc.Validate).
	maxMemoryKiB = 1 << 18
	maxTime      = 20
	maxThreads   = 16
)

// normalizePassword is Unicode NFC, as the cloud's account hasher applies
// before hashing: the same password typed on keyboards that compose accents
// differently verifies against hashes made in the cloud.
func normalizePassword(pw string) string { return norm.NFC.String(pw) }

// HashPassword returns the PHC string "$argon2id$v=19$m=…,t=…,p=…$salt$key"
// of password (NFC-normalised, as verification does).
func HashPassword(password string, p Argon2Params) (string, error) {
	if p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB || p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Threads > maxThreads {
		return "", fmt.Errorf("fieldui: argon2id parameters out of bounds: %+v", p)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("fieldui: salt: %w", err)
	}
	key := argon2.IDKey([]byte(normalizePassword(password)), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// phc is a parsed argon2id hash.
type phc struct {
	p         Argon2Params
	salt, key []byte
}

func parsePHC(s string) (phc, error) {
	var h phc
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, ErrHash
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return h, ErrHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return h, ErrHash
		}
		switch k {
		case "m":
			h.p.MemoryKiB = uint32(n)
		case "t":
			h.p.Time = uint32(n)
		case "p":
			if n > maxThreads {
				return h, ErrHash
			}
			h.p.Threads = uint8(n)
		default:
			return h, ErrHash
		}
	}
	if h.p.MemoryKiB < 8 || h.p.MemoryKiB > maxMemoryKiB || h.p.Time < 1 || h.p.Time > maxTime || h.p.Threads < 1 {
		return h, ErrHash
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 || len(h.salt) > 64 {
		return h, ErrHash
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return h, ErrHash
	}
	return h, nil
}

// matches reports whether password hashes to h, in constant time.
func (h phc) matches(password string) bool {
	k := argon2.IDKey([]byte(password), h.salt, h.p.Time, h.p.MemoryKiB, h.p.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(k, h.key) == 1
}

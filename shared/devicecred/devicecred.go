// Package devicecred owns scooter device secrets: how they are generated, how they
// are stored (hashed), and how a presented secret is checked.
//
// Secrets are 32 random bytes (256 bits), so a fast hash is the right choice: with
// that much entropy no password-style stretching (argon2) is needed to resist
// guessing, and a gateway must admit a reconnect storm of tens of thousands of
// scooters in seconds. The cloud stores and pushes down only the hash; the secret
// exists once, at provisioning, on the scooter. Comparison is in constant time.
//
// Hash format: "sha256:" followed by 64 lower-case hex digits.
package devicecred

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const prefix = "sha256:"

// SecretBytes is the entropy of a generated secret.
const SecretBytes = 32

// ErrHash reports a stored hash that is not in the expected format.
var ErrHash = errors.New("devicecred: malformed credential hash")

// Generate returns a new random secret (URL-safe base64, 43 characters) and its hash.
func Generate() (secret, hash string, err error) {
	b := make([]byte, SecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("devicecred: generate: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, Hash(secret), nil
}

// Hash returns the stored form of a secret.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return prefix + hex.EncodeToString(sum[:])
}

// Parse decodes a stored hash into its digest, for callers that check many
// secrets against one hash and want to decode it once.
func Parse(hash string) (Digest, error) {
	var d Digest
	if !strings.HasPrefix(hash, prefix) || len(hash) != len(prefix)+2*sha256.Size {
		return d, ErrHash
	}
	if _, err := hex.Decode(d[:], []byte(hash[len(prefix):])); err != nil {
		return d, ErrHash
	}
	return d, nil
}

// Digest is a parsed credential hash.
type Digest [sha256.Size]byte

// Matches reports whether secret hashes to d, in constant time.
func (d Digest) Matches(secret []byte) bool {
	sum := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(sum[:], d[:]) == 1
}

// Verify reports whether secret matches the stored hash. A malformed hash never matches.
func Verify(secret []byte, hash string) bool {
	d, err := Parse(hash)
	if err != nil {
		return false
	}
	return d.Matches(secret)
}

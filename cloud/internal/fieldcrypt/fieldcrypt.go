package fieldcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
)

const (
	// KeySize is the AES-256 key length in bytes.
	KeySize = 32
	// version1 is the first byte of every ciphertext sealed by this package.
	version1  = 1
	nonceSize = 12
	tagSize   = 16
	maxKeyID  = 64
)

var (
	// ErrInvalidKey reports key material or a key id that cannot be used.
	ErrInvalidKey = errors.New("fieldcrypt: invalid key")
	// ErrUnknownKeyID reports a sealed value whose key id is not in the keyring.
	ErrUnknownKeyID = errors.New("fieldcrypt: unknown key id")
	// ErrMalformed reports a ciphertext too short or of an unknown version.
	ErrMalformed = errors.New("fieldcrypt: malformed ciphertext")
	// ErrDecrypt reports a ciphertext that fails authentication: tampered, relabelled, or
	// opened with the wrong context.
	ErrDecrypt = errors.New("fieldcrypt: decryption failed")
)

// Sealed is an encrypted value as stored: KeyID and Ciphertext go in two adjacent columns.
type Sealed struct {
	KeyID      string
	Ciphertext []byte
}

// Keyring seals under its current key and opens under any of its keys.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
	rand    io.Reader
}

// Option configures a Keyring.
type Option func(*Keyring)

// WithRand replaces crypto/rand as the nonce source (tests only: nonces must never repeat).
func WithRand(r io.Reader) Option { return func(k *Keyring) { k.rand = r } }

// NewKeyring builds a keyring from raw 32-byte keys by id; current must be one of them.
func NewKeyring(current string, keys map[string][]byte, opts ...Option) (*Keyring, error) {
	k := &Keyring{current: current, aeads: make(map[string]cipher.AEAD, len(keys)), rand: rand.Reader}
	for id, key := range keys {
		if err := checkKeyID(id); err != nil {
			return nil, err
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("%w: key %q is %d bytes, want %d", ErrInvalidKey, id, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%w: key %q: %v", ErrInvalidKey, id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: key %q: %v", ErrInvalidKey, id, err)
		}
		k.aeads[id] = aead
	}
	if _, ok := k.aeads[current]; !ok {
		return nil, fmt.Errorf("%w: current key id %q is not among the keys", ErrInvalidKey, current)
	}
	for _, o := range opts {
		o(k)
	}
	return k, nil
}

// ParseKeyring builds a keyring from configuration: keys maps key id to standard base64 of
// 32 bytes.
func ParseKeyring(current string, keys map[string]string, opts ...Option) (*Keyring, error) {
	raw := make(map[string][]byte, len(keys))
	for id, b64 := range keys {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("%w: key %q is not base64", ErrInvalidKey, id)
		}
		raw[id] = b
	}
	return NewKeyring(current, raw, opts...)
}

// ParseKeySpec reads keys written as one string, "id1:BASE64,id2:BASE64" (handy for an
// environment variable), into the map ParseKeyring takes.
func ParseKeySpec(spec string) (map[string]string, error) {
	keys := map[string]string{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("%w: key spec entry without \"id:\" prefix", ErrInvalidKey)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("%w: key id %q listed twice", ErrInvalidKey, id)
		}
		keys[id] = b64
	}
	return keys, nil
}

// GenerateKey returns a new random key in the base64 form configuration uses.
func GenerateKey() (string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("fieldcrypt: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func checkKeyID(id string) error {
	if id == "" || len(id) > maxKeyID {
		return fmt.Errorf("%w: key id must be 1-%d characters", ErrInvalidKey, maxKeyID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' {
			continue
		}
		return fmt.Errorf("%w: key id %q: character %q not allowed (A-Z a-z 0-9 _ - .)", ErrInvalidKey, id, c)
	}
	return nil
}

// CurrentKeyID is the id new values are sealed under.
func (k *Keyring) CurrentKeyID() string { return k.current }

// Seal encrypts plaintext under the current key. context binds the value to where it is
// stored (table, column, row id): Open must be given the same context.
func (k *Keyring) Seal(plaintext, context []byte) (Sealed, error) {
	aead := k.aeads[k.current]
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+tagSize)
	out[0] = version1
	if _, err := io.ReadFull(k.rand, out[1:1+nonceSize]); err != nil {
		return Sealed{}, fmt.Errorf("fieldcrypt: seal: nonce: %w", err)
	}
	out = aead.Seal(out, out[1:1+nonceSize], plaintext, aad(version1, k.current, context))
	return Sealed{KeyID: k.current, Ciphertext: out}, nil
}

// Open decrypts s with the key named by s.KeyID.
func (k *Keyring) Open(s Sealed, context []byte) ([]byte, error) {
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKeyID, s.KeyID)
	}
	if len(s.Ciphertext) < 1+nonceSize+tagSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(s.Ciphertext))
	}
	if s.Ciphertext[0] != version1 {
		return nil, fmt.Errorf("%w: version %d", ErrMalformed, s.Ciphertext[0])
	}
	nonce := s.Ciphertext[1 : 1+nonceSize]
	pt, err := aead.Open(nil, nonce, s.Ciphertext[1+nonceSize:], aad(version1, s.KeyID, context))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// NeedsRotation reports whether s was sealed under a key other than the current one.
func (k *Keyring) NeedsRotation(s Sealed) bool { return s.KeyID != k.current }

// Rotate re-seals s under the current key (a rotation job calls it for every row whose key
// id is not CurrentKeyID, then retires the old key from configuration).
func (k *Keyring) Rotate(s Sealed, context []byte) (Sealed, error) {
	pt, err := k.Open(s, context)
	if err != nil {
		return Sealed{}, fmt.Errorf("fieldcrypt: rotate: %w", err)
	}
	return k.Seal(pt, context)
}

// KeyIDs lists the keyring's key ids, sorted.
func (k *Keyring) KeyIDs() []string {
	ids := make([]string, 0, len(k.aeads))
	for id := range k.aeads {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// String and LogValue show key ids, never key material.
func (k *Keyring) String() string {
	return fmt.Sprintf("fieldcrypt.Keyring{current: %s, keys: %s}", k.current, strings.Join(k.KeyIDs(), ","))
}

// LogValue implements slog.LogValuer.
func (k *Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("current", k.current), slog.Any("keys", k.KeyIDs()))
}

// aad is version | len(keyID) | keyID | context: unambiguous, so no (keyID, context) pair
// can imitate another.
func aad(version byte, keyID string, context []byte) []byte {
	b := make([]byte, 0, 2+len(keyID)+len(context))
	b = append(b, version, byte(len(keyID)))
	b = append(b, keyID...)
	return append(b, context...)
}

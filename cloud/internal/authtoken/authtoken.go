package authtoken

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors returned by this package; check them with errors.Is.
var (
	// ErrInvalidToken is wrapped by every access-token verification failure (malformed,
	// unknown key, bad signature, wrong issuer or audience, expired).
	ErrInvalidToken = errors.New("authtoken: invalid token")
	// ErrExpired is wrapped (together with ErrInvalidToken) when a token is well-formed and
	// correctly signed but past its expiry.
	ErrExpired = errors.New("authtoken: token expired")
	// ErrKeyset is wrapped by every key configuration error.
	ErrKeyset = errors.New("authtoken: invalid keyset")
	// ErrRefreshToken is returned for a refresh token that is not of the issued form.
	ErrRefreshToken = errors.New("authtoken: malformed refresh token")
)

// Keyset is a set of Ed25519 keys by id: the current one signs, all of them verify.
type Keyset struct {
	current string
	keys    map[string]ed25519.PrivateKey
}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// NewKeyset builds a keyset from 32-byte Ed25519 seeds by key id; current must be one of them.
func NewKeyset(current string, seeds map[string][]byte) (*Keyset, error) {
	if len(seeds) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrKeyset)
	}
	ks := &Keyset{current: current, keys: make(map[string]ed25519.PrivateKey, len(seeds))}
	for id, seed := range seeds {
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("%w: key id %q must match %s", ErrKeyset, id, keyIDPattern)
		}
		if len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("%w: key %q is %d bytes, want a %d-byte Ed25519 seed", ErrKeyset, id, len(seed), ed25519.SeedSize)
		}
		ks.keys[id] = ed25519.NewKeyFromSeed(seed)
	}
	if _, ok := ks.keys[current]; !ok {
		return nil, fmt.Errorf("%w: current key %q is not in the keyset", ErrKeyset, current)
	}
	return ks, nil
}

// ParseKeyset reads keys written as one string, "id1:BASE64SEED,id2:BASE64SEED" (standard
// base64 of 32 bytes each, as GenerateSeed prints), with current naming the signing key.
func ParseKeyset(current, spec string) (*Keyset, error) {
	seeds := map[string][]byte{}
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("%w: entry %d: want id:base64", ErrKeyset, len(seeds)+1)
		}
		if _, dup := seeds[id]; dup {
			return nil, fmt.Errorf("%w: key id %q given twice", ErrKeyset, id)
		}
		seed, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			// Never echo the value: it is key material.
			return nil, fmt.Errorf("%w: key %q: not standard base64", ErrKeyset, id)
		}
		seeds[id] = seed
	}
	return NewKeyset(current, seeds)
}

// GenerateSeed returns a new random Ed25519 seed in the base64 form ParseKeyset reads.
func GenerateSeed() (string, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return "", fmt.Errorf("authtoken: generate seed: %w", err)
	}
	return base64.StdEncoding.EncodeToString(seed), nil
}

// CurrentKeyID is the id of the signing key.
func (k *Keyset) CurrentKeyID() string { return k.current }

// KeyIDs lists every key id, sorted.
func (k *Keyset) KeyIDs() []string {
	ids := make([]string, 0, len(k.keys))
	for id := range k.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// String and LogValue show key ids, never key material.
func (k *Keyset) String() string {
	return fmt.Sprintf("authtoken.Keyset{current: %s, keys: %v}", k.current, k.KeyIDs())
}

// LogValue implements slog.LogValuer.
func (k *Keyset) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Config parameterises an Issuer.
type Config struct {
	// Issuer and Audience go in iss and aud and are required on verification.
	Issuer   string
	Audience string
	// AccessTTL is the access-token lifetime (default 15 minutes).
	AccessTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultAccessTTL is the access-token lifetime when Config.AccessTTL is zero.
const DefaultAccessTTL = 15 * time.Minute

// Issuer signs and verifies access tokens.
type Issuer struct {
	keys *Keyset
	cfg  Config
}

// NewIssuer returns an Issuer signing with keys' current key.
func NewIssuer(keys *Keyset, cfg Config) (*Issuer, error) {
	if keys == nil {
		return nil, fmt.Errorf("%w: nil keyset", ErrKeyset)
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, fmt.Errorf("authtoken: issuer and audience are required")
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.AccessTTL < 0 {
		return nil, fmt.Errorf("authtoken: negative access TTL %v", cfg.AccessTTL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Issuer{keys: keys, cfg: cfg}, nil
}

// AccessTTL is the lifetime of the tokens Issue signs.
func (i *Issuer) AccessTTL() time.Duration { return i.cfg.AccessTTL }

// Claims is what a verified access token says.
type Claims struct {
	Subject   string
	ID        string
	KeyID     string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Issue signs an access token for subject (a rider id).
func (i *Issuer) Issue(subject string) (token string, expiresAt time.Time, err error) {
	if subject == "" {
		return "", time.Time{}, fmt.Errorf("authtoken: issue: empty subject")
	}
	now := i.cfg.Now().Truncate(time.Second)
	exp := now.Add(i.cfg.AccessTTL)
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", time.Time{}, fmt.Errorf("authtoken: issue: %w", err)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.RegisteredClaims{
		Issuer:    i.cfg.Issuer,
		Subject:   subject,
		Audience:  jwt.ClaimStrings{i.cfg.Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
		ID:        hex.EncodeToString(jti),
	})
	t.Header["kid"] = i.keys.current
	s, err := t.SignedString(i.keys.keys[i.keys.current])
	if err != nil {
		return "", time.Time{}, fmt.Errorf("authtoken: issue: %w", err)
	}
	return s, exp, nil
}

// maxTokenLen bounds the tokens Verify parses.
const maxTokenLen = 4096

// Verify checks token and returns its claims. Every failure wraps ErrInvalidToken (and
// ErrExpired for an expired token); the message never contains the token.
func (i *Issuer) Verify(token string) (Claims, error) {
	if len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: too long", ErrInvalidToken)
	}
	var kid string
	var rc jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &rc, func(t *jwt.Token) (any, error) {
		id, ok := t.Header["kid"].(string)
		if !ok {
			return nil, errors.New("no kid header")
		}
		key, ok := i.keys.keys[id]
		if !ok {
			return nil, errors.New("unknown key id")
		}
		kid = id
		return key.Public(), nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(i.cfg.Issuer),
		jwt.WithAudience(i.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(i.cfg.Now),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrExpired)
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if rc.Subject == "" {
		return Claims{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	c := Claims{Subject: rc.Subject, ID: rc.ID, KeyID: kid}
	if rc.IssuedAt != nil {
		c.IssuedAt = rc.IssuedAt.Time
	}
	if rc.ExpiresAt != nil {
		c.ExpiresAt = rc.ExpiresAt.Time
	}
	return c, nil
}

// RefreshTokenLen is the length of an encoded refresh token (32 bytes, base64url, no padding).
const RefreshTokenLen = 43

// NewRefreshToken returns a fresh random refresh token and the hash to store for it.
func NewRefreshToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("authtoken: refresh token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(token))
	return token, h[:], nil
}

// HashRefreshToken returns the stored form of token, after checking its shape (so arbitrary
// input never reaches the database as a lookup key of the wrong kind).
func HashRefreshToken(token string) ([]byte, error) {
	if len(token) != RefreshTokenLen {
		return nil, ErrRefreshToken
	}
	if _, err := base64.RawURLEncoding.DecodeString(token); err != nil {
		return nil, ErrRefreshToken
	}
	h := sha256.Sum256([]byte(token))
	return h[:], nil
}

package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrHashFormat is returned for a stored hash that is not an argon2id PHC string this package
// accepts (including parameters beyond the sane maxima, which would make verification a DoS).
var ErrHashFormat = errors.New("account: malformed password hash")

// Argon2Params are argon2id's cost parameters.
type Argon2Params struct {
	MemoryKiB uint32 // m
	Time      uint32 // t, passes
	Threads   uint8  // p, lanes
	SaltLen   uint32
	KeyLen    uint32
}

// DefaultArgon2Params: m = 64 MiB, t = 3, p = 2 (package comment).
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{MemoryKiB: 64 * 1024, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}
}

// Bounds on parameters, for configuration and for parsing stored hashes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 20
	maxThreads   = 16
)

// Validate checks the parameters are within sane bounds.
func (p Argon2Params) Validate() error {
	if p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxMemoryKiB || p.Time < 1 || p.Time > maxTime ||
		p.Threads < 1 || p.Threads > maxThreads || p.SaltLen < 16 || p.SaltLen > 64 || p.KeyLen < 16 || p.KeyLen > 64 {
		return fmt.Errorf("account: argon2id parameters out of bounds: %+v", p)
	}
	return nil
}

// Hasher hashes and verifies passwords with argon2id. Safe for concurrent use.
type Hasher struct {
	params Argon2Params
	sem    chan struct{}
	dummy  string
}

// NewHasher returns a hasher with params running at most maxConcurrent hashes at once
// (0 means 2×GOMAXPROCS).
func NewHasher(params Argon2Params, maxConcurrent int) (*Hasher, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	if maxConcurrent <= 0 {
		maxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: params, sem: make(chan struct{}, maxConcurrent)}
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return nil, fmt.Errorf("account: dummy password: %w", err)
	}
	dummy, err := h.hash(string(pw))
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// Params returns the parameters new hashes use.
func (h *Hasher) Params() Argon2Params { return h.params }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("account: waiting to hash: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC string of password (normalised with NormalizePassword).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash(password)
}

func (h *Hasher) hash(password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("account: salt: %w", err)
	}
	p := h.params
	key := argon2.IDKey([]byte(NormalizePassword(password)), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify reports whether password matches encoded, in constant time with respect to the key.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(NormalizePassword(password)), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy spends the time of one verification and always fails: used when there is no
// hash to check against, so timing does not reveal that.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, err := h.Verify(ctx, password, h.dummy)
	return err
}

// NeedsRehash reports whether encoded was made with parameters other than the current ones.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, salt, key, err := parsePHC(encoded)
	if err != nil {
		return true
	}
	c := h.params
	return p.MemoryKiB != c.MemoryKiB || p.Time != c.Time || p.Threads != c.Threads ||
		uint32(len(salt)) != c.SaltLen || uint32(len(key)) != c.KeyLen
}

func parsePHC(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, ErrHashFormat
	}
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, ErrHashFormat
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, ErrHashFormat
		}
		switch k {
		case "m":
			p.MemoryKiB = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > maxThreads {
				return p, nil, nil, ErrHashFormat
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, ErrHashFormat
		}
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, ErrHashFormat
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return p, nil, nil, ErrHashFormat
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if p.Validate() != nil {
		return p, nil, nil, ErrHashFormat
	}
	return p, salt, key, nil
}

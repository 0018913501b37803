package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

// MaxKey and MaxScope are the longest key and scope, in characters (table constraints).
const (
	MaxKey   = 255
	MaxScope = 200
)

// DefaultTTL is how long a key is remembered.
const DefaultTTL = 24 * time.Hour

var (
	// ErrInvalidKey means a missing or malformed key (or scope).
	ErrInvalidKey = errors.New("idempotency: invalid key")
	// ErrInProgress means the first request with this key has not finished.
	ErrInProgress = errors.New("idempotency: request with this key in progress")
	// ErrKeyReused means the key was used for a different request.
	ErrKeyReused = errors.New("idempotency: key reused for a different request")
	// ErrNotClaimed means Complete or Release of a key this request does not hold.
	ErrNotClaimed = errors.New("idempotency: key not claimed")
)

// Hash identifies a request: equal requests must hash equal (see HashOf).
type Hash [32]byte

// HashOf hashes the parts of a request that define it (operation, target, canonical body
// fields). Each part is length-prefixed, so ("ab","c") and ("a","bc") differ.
func HashOf(parts ...string) Hash {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var out Hash
	copy(out[:], h.Sum(nil))
	return out
}

// Response is a stored answer: status and JSON body.
type Response struct {
	Status int
	Body   json.RawMessage
}

// Execer is what Complete writes through: a transaction (preferably the work's own) or a pool.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Options configures a Store.
type Options struct {
	TTL time.Duration    // default DefaultTTL
	Now func() time.Time // default time.Now
}

// Store claims, completes and replays keys.
type Store struct {
	pool *pgxpool.Pool
	ttl  time.Duration
	now  func() time.Time
}

// New returns a Store on pool (the app role).
func New(pool *pgxpool.Pool, o Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("idempotency: nil pool")
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.TTL < 0 {
		return nil, fmt.Errorf("idempotency: negative TTL %v", o.TTL)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{pool: pool, ttl: o.TTL, now: o.Now}, nil
}

// ValidKey checks a client's key: 1–255 printable ASCII characters (no spaces or controls).
func ValidKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: missing %s header", ErrInvalidKey, Header)
	}
	if len(key) > MaxKey {
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidKey, MaxKey)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: only printable ASCII without spaces is allowed", ErrInvalidKey)
		}
	}
	return nil
}

func validScope(scope string) error {
	if scope == "" || utf8.RuneCountInString(scope) > MaxScope || !utf8.ValidString(scope) {
		return fmt.Errorf("%w: scope must be 1..%d characters", ErrInvalidKey, MaxScope)
	}
	return nil
}

// Begin claims (scope, key) for a request hashing to h. It returns (nil, nil) when this request
// now holds the claim, the stored response for a completed retry of the same request,
// ErrInProgress while the first request runs, and ErrKeyReused for another request.
func (s *Store) Begin(ctx context.Context, scope, key string, h Hash) (*Response, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	if err := validScope(scope); err != nil {
		return nil, err
	}
	now := s.now()
	// Two rounds at most: the second follows replacing an expired row.
	for range 2 {
		tag, err := s.pool.Exec(ctx, `
			INSERT INTO idempotency_keys (scope, key, request_hash, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, key) DO NOTHING`,
			scope, key, h[:], now, now.Add(s.ttl))
		if err != nil {
			return nil, fmt.Errorf("idempotency: claim: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil, nil
		}
		var (
			hash    []byte
			status  *int
			body    []byte
			expires time.Time
		)
		err = s.pool.QueryRow(ctx, `
			SELECT request_hash, response_status, response_body, expires_at
			  FROM idempotency_keys WHERE scope = $1 AND key = $2`, scope, key).Scan(&hash, &status, &body, &expires)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // released or purged in between: claim again
		}
		if err != nil {
			return nil, fmt.Errorf("idempotency: read: %w", err)
		}
		if !expires.After(now) {
			if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at <= $3`,
				scope, key, now); err != nil {
				return nil, fmt.Errorf("idempotency: replace expired: %w", err)
			}
			continue
		}
		if string(hash) != string(h[:]) {
			return nil, ErrKeyReused
		}
		if status == nil {
			return nil, ErrInProgress
		}
		return &Response{Status: *status, Body: body}, nil
	}
	return nil, ErrInProgress
}

// Complete stores the response of the request holding (scope, key). Call it through the work's
// own transaction when there is one, so the response commits with the effect. body is
// marshalled to JSON (a json.RawMessage is stored as is).
func (s *Store) Complete(ctx context.Context, q Execer, scope, key string, status int, body any) error {
	if status < 100 || status > 599 {
		return fmt.Errorf("idempotency: complete: status %d", status)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("idempotency: complete: body: %w", err)
	}
	tag, err := q.Exec(ctx, `
		UPDATE idempotency_keys SET response_status = $3, response_body = $4, completed_at = $5
		 WHERE scope = $1 AND key = $2 AND response_status IS NULL`, scope, key, status, b, s.now())
	if err != nil {
		return fmt.Errorf("idempotency: complete: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("idempotency: complete %s: %w", scope, ErrNotClaimed)
	}
	return nil
}

// Release drops the claim of an unfinished request whose work did not happen, so the client
// may retry with the same key. A completed key is never released.
func (s *Store) Release(ctx context.Context, scope, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND response_status IS NULL`,
		scope, key); err != nil {
		return fmt.Errorf("idempotency: release: %w", err)
	}
	return nil
}

// PurgeExpired deletes expired keys and returns how many.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE expires_at <= $1`, s.now())
	if err != nil {
		return 0, fmt.Errorf("idempotency: purge: %w", err)
	}
	return tag.RowsAffected(), nil
}

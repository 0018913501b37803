package idempotency_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/idempotency"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.t.Add(int64(d)) }
func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func TestKeyLifecycle(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	clk := newClock()
	s, err := idempotency.New(db.Pool, idempotency.Options{TTL: time.Hour, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	const scope = "rider:r1:top_up"
	h := idempotency.HashOf("top_up", "1000", "EUR")

	if r, err := s.Begin(ctx, scope, "k1", h); r != nil || err != nil {
		t.Fatalf("first Begin = %v, %v; want the claim", r, err)
	}
	if _, err := s.Begin(ctx, scope, "k1", h); !errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("Begin while in progress = %v", err)
	}
	if _, err := s.Begin(ctx, scope, "k1", idempotency.HashOf("top_up", "2000", "EUR")); !errors.Is(err, idempotency.ErrKeyReused) {
		t.Fatalf("Begin with another body = %v", err)
	}
	// Complete inside a transaction that rolls back: still in progress.
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if err := s.Complete(ctx, tx, scope, "k1", 201, map[string]any{"id": "p1"}); err != nil {
			return err
		}
		return errors.New("the work failed")
	})
	if err == nil || err.Error() != "the work failed" {
		t.Fatal(err)
	}
	if _, err := s.Begin(ctx, scope, "k1", h); !errors.Is(err, idempotency.ErrInProgress) {
		t.Fatalf("after a rolled-back completion: %v", err)
	}
	if err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		return s.Complete(ctx, tx, scope, "k1", 201, map[string]any{"id": "p1"})
	}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Begin(ctx, scope, "k1", h)
	if err != nil || r == nil || r.Status != 201 {
		t.Fatalf("replay = %v, %v", r, err)
	}
	var body map[string]string
	if err := json.Unmarshal(r.Body, &body); err != nil || body["id"] != "p1" {
		t.Fatalf("replayed body %s: %v", r.Body, err)
	}
	if _, err := s.Begin(ctx, scope, "k1", idempotency.HashOf("other")); !errors.Is(err, idempotency.ErrKeyReused) {
		t.Fatalf("completed key with another body = %v", err)
	}
	// Completing twice is refused; release never drops a completed key.
	if err := s.Complete(ctx, db.Pool, scope, "k1", 200, nil); !errors.Is(err, idempotency.ErrNotClaimed) {
		t.Fatalf("second Complete = %v", err)
	}
	if err := s.Release(ctx, scope, "k1"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Begin(ctx, scope, "k1", h); err != nil || r == nil {
		t.Fatalf("completed key after Release: %v %v", r, err)
	}
	// Same key in another scope is another key.
	if r, err := s.Begin(ctx, "rider:r2:top_up", "k1", h); r != nil || err != nil {
		t.Fatalf("other scope: %v %v", r, err)
	}
	// Release frees an in-progress claim.
	if err := s.Release(ctx, "rider:r2:top_up", "k1"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Begin(ctx, "rider:r2:top_up", "k1", h); r != nil || err != nil {
		t.Fatalf("after Release: %v %v", r, err)
	}
	// Expiry: after the TTL the key is new again.
	clk.add(time.Hour + time.Second)
	if r, err := s.Begin(ctx, scope, "k1", idempotency.HashOf("a new request")); r != nil || err != nil {
		t.Fatalf("expired key: %v %v", r, err)
	}
	if n, err := s.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v; want the r2 key", n, err)
	}
}

func TestInvalidKeys(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"", strings.Repeat("k", 256), "with space", "tab\t", "nul\x00", "é", "'; DROP TABLE idempotency_keys; --"} {
		if err := idempotency.ValidKey(k); !errors.Is(err, idempotency.ErrInvalidKey) {
			t.Errorf("ValidKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"a", strings.Repeat("k", 255), "550e8400-e29b-41d4-a716-446655440000", "x'--;"} {
		if err := idempotency.ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v", k, err)
		}
	}
	if idempotency.HashOf("ab", "c") == idempotency.HashOf("a", "bc") {
		t.Error("HashOf is ambiguous")
	}
}

// Many concurrent first requests with one key: exactly one claims it.
func TestConcurrentBeginOneWinner(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	s, err := idempotency.New(db.Pool, idempotency.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := idempotency.HashOf("x")
	var wins, busy atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			r, err := s.Begin(t.Context(), "s", "same", h)
			switch {
			case err == nil && r == nil:
				wins.Add(1)
			case errors.Is(err, idempotency.ErrInProgress):
				busy.Add(1)
			default:
				t.Errorf("Begin = %v %v", r, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || busy.Load() != 7 {
		t.Fatalf("%d claims, %d in progress; want 1 and 7", wins.Load(), busy.Load())
	}
}

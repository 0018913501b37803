package chstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Store is a connection pool to one ClickHouse database (the DSN's database). It is safe for
// concurrent use; Close releases the pool.
type Store struct {
	conn driver.Conn
	log  *slog.Logger
}

// Option configures Open.
type Option func(*Store)

// WithLogger sets the logger for migrations and retention (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// Open connects with the native protocol and pings the server. The DSN looks like
// clickhouse://[user[:password]@]host:port/database[?dial_timeout=5s&compress=lz4…]
// (clickhouse-go's DSN syntax). The database must exist.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDSN, err)
	}
	if o.Protocol != clickhouse.Native {
		return nil, fmt.Errorf("%w: only the native protocol (clickhouse://) is supported", ErrInvalidDSN)
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	conn, err := clickhouse.Open(o)
	if err != nil {
		return nil, fmt.Errorf("chstore: open: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		if cerr := conn.Close(); cerr != nil {
			return nil, fmt.Errorf("chstore: ping: %w (close: %w)", err, cerr)
		}
		return nil, fmt.Errorf("chstore: ping: %w", err)
	}
	s := &Store{conn: conn, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(s)
	}
	s.log = s.log.With("component", "chstore")
	return s, nil
}

// Close releases the connection pool.
func (s *Store) Close() error {
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("chstore: close: %w", err)
	}
	return nil
}

// Ping checks that the server answers (for health checks).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("chstore: ping: %w", err)
	}
	return nil
}

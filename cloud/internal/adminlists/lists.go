package adminlists

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrInvalid means a filter, limit or cursor is unusable (wrapped with the reason).
var ErrInvalid = errors.New("adminlists: invalid")

// ErrTooMany means Each found more rows than its maximum: nothing beyond it was passed on.
var ErrTooMany = errors.New("adminlists: too many rows")

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Querier runs a query: a *pgxpool.Pool (as fleetedge_app), a pgx.Tx or a *pgx.Conn.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

var (
	uuidRE    = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	cityRE    = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	vehicleRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
)

// conds collects the WHERE conditions of a query and their arguments ($1, $2, …).
type conds struct {
	where []string
	args  []any
	err   error
}

// add appends cond, whose %d is replaced by the placeholder number of v.
func (c *conds) add(cond string, v any) {
	c.args = append(c.args, v)
	c.where = append(c.where, fmt.Sprintf(cond, len(c.args)))
}

func (c *conds) fail(format string, a ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
	}
}

func (c *conds) uuid(col, name, v string) {
	if v == "" {
		return
	}
	if !uuidRE.MatchString(v) {
		c.fail("%s must be a UUID", name)
		return
	}
	c.add(col+" = $%d::uuid", v)
}

func (c *conds) oneOf(col, name, v string, allowed ...string) {
	if v == "" {
		return
	}
	for _, a := range allowed {
		if v == a {
			c.add(col+" = $%d", v)
			return
		}
	}
	c.fail("%s must be one of %s", name, strings.Join(allowed, ", "))
}

// window adds col in [from, to) for the non-zero ends.
func (c *conds) window(col string, from, to time.Time) {
	if !from.IsZero() {
		c.add(col+" >= $%d", from)
	}
	if !to.IsZero() {
		c.add(col+" < $%d", to)
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		c.fail("to must be after from")
	}
}

func (c *conds) sql() string {
	if len(c.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.where, " AND ")
}

// cursor is a keyset position: the (time, id) of the last row of a page, in a newest-first
// order. Encoded "k1." + base64url("<unix µs>/<uuid>").
type cursor struct {
	at time.Time
	id string
}

const cursorPrefix = "k1."

func encodeCursor(at time.Time, id string) string {
	return cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10)+"/"+id))
}

func decodeCursor(s string) (cursor, error) {
	bad := fmt.Errorf("%w: cursor", ErrInvalid)
	rest, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return cursor{}, bad
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil {
		return cursor{}, bad
	}
	us, id, ok := strings.Cut(string(b), "/")
	if !ok || !uuidRE.MatchString(id) {
		return cursor{}, bad
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return cursor{}, bad
	}
	at := time.UnixMicro(n).UTC()
	// Only the canonical spelling, and times PostgreSQL can compare (years 1…9999).
	if at.Year() < 1 || at.Year() > 9999 || encodeCursor(at, id) != s {
		return cursor{}, bad
	}
	return cursor{at: at, id: id}, nil
}

// listSpec is one kind of list: its SELECT (without WHERE), the keyset columns (newest first)
// and how a row is scanned.
type listSpec[T any] struct {
	name     string
	from     string // "SELECT … FROM … JOIN …"
	timeCol  string // keyset time column, e.g. r.started_at
	idCol    string // keyset id column (uuid), e.g. r.id
	scan     func(pgx.Rows) (T, error)
	key      func(T) (time.Time, string)
	orderSQL string // overrides the keyset order (Each only), e.g. "v.number"
}

func limitOf(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0 || n > MaxLimit:
		return 0, fmt.Errorf("%w: limit must be 1..%d", ErrInvalid, MaxLimit)
	}
	return n, nil
}

// page returns up to limit rows after cur (newest first) and the cursor of the next page ("" on
// the last page).
func page[T any](ctx context.Context, q Querier, s listSpec[T], c conds, limit int, cur string) ([]T, string, error) {
	if c.err != nil {
		return nil, "", c.err
	}
	limit, err := limitOf(limit)
	if err != nil {
		return nil, "", err
	}
	if cur != "" {
		k, err := decodeCursor(cur)
		if err != nil {
			return nil, "", err
		}
		c.args = append(c.args, k.at, k.id)
		c.where = append(c.where, fmt.Sprintf("(%s, %s) < ($%d, $%d::uuid)", s.timeCol, s.idCol, len(c.args)-1, len(c.args)))
	}
	c.args = append(c.args, limit+1)
	sql := fmt.Sprintf("%s%s ORDER BY %s DESC, %s DESC LIMIT $%d", s.from, c.sql(), s.timeCol, s.idCol, len(c.args))
	items := make([]T, 0, limit+1)
	if _, err := run(ctx, q, s, sql, c.args, func(v T) error { items = append(items, v); return nil }); err != nil {
		return nil, "", err
	}
	if len(items) <= limit {
		return items, "", nil
	}
	items = items[:limit]
	at, id := s.key(items[limit-1])
	return items, encodeCursor(at, id), nil
}

// each passes every row (newest first, or orderSQL) to fn, at most max rows; more fails with
// ErrTooMany before fn sees row max+1.
func each[T any](ctx context.Context, q Querier, s listSpec[T], c conds, max int, fn func(T) error) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if max < 1 {
		return 0, fmt.Errorf("%w: max must be positive", ErrInvalid)
	}
	order := s.orderSQL
	if order == "" {
		order = s.timeCol + " DESC, " + s.idCol + " DESC"
	}
	c.args = append(c.args, max+1)
	sql := fmt.Sprintf("%s%s ORDER BY %s LIMIT $%d", s.from, c.sql(), order, len(c.args))
	n := 0
	return run(ctx, q, s, sql, c.args, func(v T) error {
		if n++; n > max {
			return fmt.Errorf("%w: more than %d %s match; narrow the filters", ErrTooMany, max, s.name)
		}
		return fn(v)
	})
}

// run executes sql and passes each scanned row to fn; it returns the rows passed.
func run[T any](ctx context.Context, q Querier, s listSpec[T], sql string, args []any, fn func(T) error) (int, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return 0, fmt.Errorf("adminlists: %s: %w", s.name, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		v, err := s.scan(rows)
		if err != nil {
			return n, fmt.Errorf("adminlists: %s: scan: %w", s.name, err)
		}
		if err := fn(v); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("adminlists: %s: %w", s.name, err)
	}
	return n, nil
}

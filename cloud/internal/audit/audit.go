package audit

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// ErrInvalid is returned for an entry or filter that breaks the rules (wrapped with details).
var ErrInvalid = errors.New("audit: invalid")

// Limits of the fields, the same as the table's checks.
const (
	MaxEmail     = 254
	MaxTargetID  = 255
	MaxTarget    = 64
	MaxUserAgent = 512
	MaxRequestID = 128
	// DefaultLimit and MaxLimit bound a List page.
	DefaultLimit = 50
	MaxLimit     = 500
)

var actionRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// Actor is who did something and from where.
type Actor struct {
	// AdminID is the admin's id (a UUID), or empty for the system (bootstrap).
	AdminID string
	// Email is copied into the entry so it stays readable if the admin is renamed.
	Email     string
	IP        netip.Addr
	UserAgent string
	RequestID string
}

// Entry is one audit record to write.
type Entry struct {
	Actor      Actor
	Action     string // e.g. "admin.create", "rider.suspend"
	TargetType string // e.g. "admin", "rider"
	TargetID   string
	// Before and After are the target's relevant state around the change (nil to omit).
	Before, After any
	// Details holds any other facts (nil to omit). Keys "before" and "after" are reserved.
	Details map[string]any
	// At is when it happened; zero means the transaction's time (now()).
	At time.Time
}

// Stored is an entry read back from the log.
type Stored struct {
	ID         int64
	At         time.Time
	AdminID    string // empty for the system
	AdminEmail string
	Action     string
	TargetType string
	TargetID   string
	Details    json.RawMessage // a JSON object; "before"/"after" when the writer gave them
	IP         netip.Addr      // invalid when unknown
	UserAgent  string
	RequestID  string
}

// Validate checks the entry against the table's rules.
func (e Entry) Validate() error {
	switch {
	case e.Actor.Email == "" || utf8.RuneCountInString(e.Actor.Email) > MaxEmail:
		return fmt.Errorf("%w: actor email must be 1..%d characters", ErrInvalid, MaxEmail)
	case !actionRE.MatchString(e.Action):
		return fmt.Errorf("%w: action %q must look like area.verb", ErrInvalid, e.Action)
	case e.TargetType == "" || utf8.RuneCountInString(e.TargetType) > MaxTarget:
		return fmt.Errorf("%w: target type must be 1..%d characters", ErrInvalid, MaxTarget)
	case utf8.RuneCountInString(e.TargetID) > MaxTargetID:
		return fmt.Errorf("%w: target id longer than %d characters", ErrInvalid, MaxTargetID)
	case utf8.RuneCountInString(e.Actor.RequestID) > MaxRequestID:
		return fmt.Errorf("%w: request id longer than %d characters", ErrInvalid, MaxRequestID)
	}
	if _, ok := e.Details["before"]; ok {
		return fmt.Errorf("%w: details key \"before\" is reserved", ErrInvalid)
	}
	if _, ok := e.Details["after"]; ok {
		return fmt.Errorf("%w: details key \"after\" is reserved", ErrInvalid)
	}
	return nil
}

// Record writes e inside tx. The caller commits or rolls back; an error here must roll back
// the change the entry describes. It returns the entry's id.
func Record(ctx context.Context, tx pgx.Tx, e Entry) (int64, error) {
	if tx == nil {
		return 0, fmt.Errorf("%w: no transaction", ErrInvalid)
	}
	if err := e.Validate(); err != nil {
		return 0, err
	}
	details := make(map[string]any, len(e.Details)+2)
	for k, v := range e.Details {
		details[k] = v
	}
	if e.Before != nil {
		details["before"] = e.Before
	}
	if e.After != nil {
		details["after"] = e.After
	}
	body, err := json.Marshal(details)
	if err != nil {
		return 0, fmt.Errorf("%w: details: %v", ErrInvalid, err)
	}
	var adminID, ip, reqID, at any
	if e.Actor.AdminID != "" {
		adminID = e.Actor.AdminID
	}
	if e.Actor.IP.IsValid() {
		ip = e.Actor.IP.Unmap().String()
	}
	if e.Actor.RequestID != "" {
		reqID = e.Actor.RequestID
	}
	if !e.At.IsZero() {
		at = e.At
	}
	ua := truncate(e.Actor.UserAgent, MaxUserAgent)
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO admin_audit_log
		(occurred_at, admin_id, admin_email, action, target_type, target_id, details, source_ip, user_agent, request_id)
		VALUES (coalesce($1::timestamptz, now()), $2, $3, $4, $5, $6, $7, $8::inet, nullif($9, ''), $10)
		RETURNING id`,
		at, adminID, e.Actor.Email, e.Action, e.TargetType, e.TargetID, body, ip, ua, reqID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return id, nil
}

// truncate cuts s to at most n runes (a user agent is informative, not worth refusing a change).
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// Filter selects entries; zero fields do not filter.
type Filter struct {
	AdminID    string // exact admin id (UUID)
	Action     string // exact action, or a prefix ending in ".*" (e.g. "admin.*")
	TargetType string
	TargetID   string
	From, To   time.Time // From inclusive, To exclusive
	Limit      int       // 1..MaxLimit; 0 means DefaultLimit
	Cursor     string    // from a previous Page.Next
}

// Page is one page of entries, newest first; Next is empty on the last page.
type Page struct {
	Records []Stored
	Next    string
}

// Querier runs a query: a *pgxpool.Pool, a pgx.Tx or a *pgx.Conn.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

const cursorPrefix = "a1."

// EncodeCursor makes the opaque cursor that continues after entry id.
func EncodeCursor(id int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeCursor(s string) (int64, error) {
	rest, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return 0, fmt.Errorf("%w: cursor", ErrInvalid)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil || len(b) != 8 {
		return 0, fmt.Errorf("%w: cursor", ErrInvalid)
	}
	id := int64(binary.BigEndian.Uint64(b))
	if id <= 0 || EncodeCursor(id) != s { // only the canonical spelling

		return 0, fmt.Errorf("%w: cursor", ErrInvalid)
	}
	return id, nil
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// List returns one page of entries matching f, newest first.
func List(ctx context.Context, q Querier, f Filter) (Page, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return Page{}, fmt.Errorf("%w: limit must be 1..%d", ErrInvalid, MaxLimit)
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.AdminID != "" {
		if !uuidRE.MatchString(f.AdminID) {
			return Page{}, fmt.Errorf("%w: admin id must be a UUID", ErrInvalid)
		}
		add("admin_id = $%d", f.AdminID)
	}
	if f.Action != "" {
		if prefix, ok := strings.CutSuffix(f.Action, ".*"); ok {
			if !actionRE.MatchString(prefix) {
				return Page{}, fmt.Errorf("%w: action filter %q", ErrInvalid, f.Action)
			}
			add("starts_with(action, $%d)", prefix+".")
		} else {
			if !actionRE.MatchString(f.Action) {
				return Page{}, fmt.Errorf("%w: action filter %q", ErrInvalid, f.Action)
			}
			add("action = $%d", f.Action)
		}
	}
	if f.TargetType != "" {
		add("target_type = $%d", f.TargetType)
	}
	if f.TargetID != "" {
		add("target_id = $%d", f.TargetID)
	}
	if !f.From.IsZero() {
		add("occurred_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("occurred_at < $%d", f.To)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return Page{}, fmt.Errorf("%w: to must be after from", ErrInvalid)
	}
	if f.Cursor != "" {
		after, err := decodeCursor(f.Cursor)
		if err != nil {
			return Page{}, err
		}
		add("id < $%d", after)
	}
	sql := `SELECT id, occurred_at, coalesce(admin_id::text, ''), admin_email, action, target_type, target_id,
		details, source_ip, coalesce(user_agent, ''), coalesce(request_id, '') FROM admin_audit_log`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit+1)
	sql += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var p Page
	for rows.Next() {
		var r Stored
		var ip *netip.Prefix
		if err := rows.Scan(&r.ID, &r.At, &r.AdminID, &r.AdminEmail, &r.Action, &r.TargetType, &r.TargetID,
			&r.Details, &ip, &r.UserAgent, &r.RequestID); err != nil {
			return Page{}, fmt.Errorf("audit: list: %w", err)
		}
		if ip != nil {
			r.IP = ip.Addr()
		}
		p.Records = append(p.Records, r)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("audit: list: %w", err)
	}
	if len(p.Records) > limit {
		p.Records = p.Records[:limit]
		p.Next = EncodeCursor(p.Records[limit-1].ID)
	}
	return p, nil
}

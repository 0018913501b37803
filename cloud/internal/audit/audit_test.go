package audit_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

func newAdmin(t *testing.T, pool *pgxpool.Pool, email string) string {
	t.Helper()
	var id string
	err := pool.QueryRow(t.Context(), `INSERT INTO admins (email, display_name, password_hash)
		VALUES ($1, 'Ops', '$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA') RETURNING id`, email).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func record(t *testing.T, pool *pgxpool.Pool, e audit.Entry) int64 {
	t.Helper()
	var id int64
	err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		var err error
		id, err = audit.Record(t.Context(), tx, e)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func count(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM admin_audit_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRecordCommitsWithTheTransactionOnly(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	adminID := newAdmin(t, db.Pool, "ops@example.com")
	actor := audit.Actor{AdminID: adminID, Email: "ops@example.com", IP: netip.MustParseAddr("192.0.2.7"), UserAgent: "dash/1", RequestID: "req-1"}

	// A transaction that fails after recording leaves nothing.
	errBoom := errors.New("boom")
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "rider.suspend", TargetType: "rider", TargetID: "r1"}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("err = %v", err)
	}
	if n := count(t, db.Pool); n != 0 {
		t.Fatalf("%d entries after rollback, want 0", n)
	}

	id := record(t, db.Pool, audit.Entry{Actor: actor, Action: "rider.suspend", TargetType: "rider", TargetID: "r1",
		Before: map[string]string{"status": "active"}, After: map[string]string{"status": "suspended"},
		Details: map[string]any{"reason": "fraud"}})
	p, err := audit.List(ctx, db.Pool, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 1 || p.Next != "" {
		t.Fatalf("page = %+v", p)
	}
	r := p.Records[0]
	if r.ID != id || r.AdminID != adminID || r.AdminEmail != "ops@example.com" || r.Action != "rider.suspend" ||
		r.TargetType != "rider" || r.TargetID != "r1" || r.IP != netip.MustParseAddr("192.0.2.7") ||
		r.UserAgent != "dash/1" || r.RequestID != "req-1" || r.At.IsZero() {
		t.Fatalf("record = %+v", r)
	}
	var details struct {
		Before, After map[string]string
		Reason        string
	}
	if err := json.Unmarshal(r.Details, &details); err != nil {
		t.Fatal(err)
	}
	if details.Before["status"] != "active" || details.After["status"] != "suspended" || details.Reason != "fraud" {
		t.Fatalf("details = %s", r.Details)
	}
}

// TestAppendOnlyThroughTheAppPool proves the pool the cloud writes entries with cannot rewrite them.
func TestAppendOnlyThroughTheAppPool(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	record(t, db.Pool, audit.Entry{Actor: audit.Actor{Email: "system"}, Action: "admin.bootstrap", TargetType: "admin"})
	for _, q := range []string{
		`UPDATE admin_audit_log SET action = 'admin.other'`,
		`UPDATE admin_audit_log SET user_agent = 'forged'`,
		`DELETE FROM admin_audit_log`,
		`TRUNCATE admin_audit_log`,
	} {
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, q)
			return err
		})
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("%s: err = %v, want insufficient privilege", q, err)
		}
	}
	p, err := audit.List(ctx, db.Pool, audit.Filter{})
	if err != nil || len(p.Records) != 1 || p.Records[0].Action != "admin.bootstrap" || p.Records[0].UserAgent != "" {
		t.Fatalf("after refused rewrites: %+v, %v", p, err)
	}
}

func TestRecordRejectsBadEntries(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	ok := audit.Entry{Actor: audit.Actor{Email: "a@b.c"}, Action: "admin.create", TargetType: "admin"}
	cases := map[string]func(e *audit.Entry){
		"no email":        func(e *audit.Entry) { e.Actor.Email = "" },
		"bad action":      func(e *audit.Entry) { e.Action = "Admin Create" },
		"no target type":  func(e *audit.Entry) { e.TargetType = "" },
		"long target id":  func(e *audit.Entry) { e.TargetID = strings.Repeat("x", 256) },
		"reserved before": func(e *audit.Entry) { e.Details = map[string]any{"before": 1} },
		"unmarshalable":   func(e *audit.Entry) { e.After = func() {} },
	}
	for name, mut := range cases {
		t.Run(name, func(t *testing.T) {
			e := ok
			mut(&e)
			err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
				_, err := audit.Record(ctx, tx, e)
				return err
			})
			if !errors.Is(err, audit.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := audit.Record(ctx, nil, ok); !errors.Is(err, audit.ErrInvalid) {
		t.Fatalf("nil tx: %v", err)
	}
	// A long user agent is cut, not refused.
	long := ok
	long.Actor.UserAgent = strings.Repeat("é", 600)
	record(t, db.Pool, long)
	if n := count(t, db.Pool); n != 1 {
		t.Fatalf("count = %d", n)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	db := pgstoretest.New(t)
	ctx := t.Context()
	a1 := newAdmin(t, db.Pool, "one@example.com")
	a2 := newAdmin(t, db.Pool, "two@example.com")
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type row struct {
		admin, email, action, ttype, tid string
		at                               time.Time
	}
	rows := []row{
		{a1, "one@example.com", "admin.create", "admin", "x1", base},
		{a1, "one@example.com", "admin.roles_set", "admin", "x1", base.Add(time.Hour)},
		{a2, "two@example.com", "rider.suspend", "rider", "r9", base.Add(2 * time.Hour)},
		{a2, "two@example.com", "admin.disable", "admin", "x1", base.Add(3 * time.Hour)},
		{a1, "one@example.com", "rider.suspend", "rider", "r8", base.Add(4 * time.Hour)},
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = record(t, db.Pool, audit.Entry{Actor: audit.Actor{AdminID: r.admin, Email: r.email}, Action: r.action,
			TargetType: r.ttype, TargetID: r.tid, At: r.at})
	}
	cases := []struct {
		name string
		f    audit.Filter
		want []int // indexes into rows, newest first
	}{
		{"all", audit.Filter{}, []int{4, 3, 2, 1, 0}},
		{"admin", audit.Filter{AdminID: a1}, []int{4, 1, 0}},
		{"action", audit.Filter{Action: "rider.suspend"}, []int{4, 2}},
		{"action prefix", audit.Filter{Action: "admin.*"}, []int{3, 1, 0}},
		{"target", audit.Filter{TargetType: "admin", TargetID: "x1"}, []int{3, 1, 0}},
		{"target type", audit.Filter{TargetType: "rider"}, []int{4, 2}},
		{"from", audit.Filter{From: base.Add(3 * time.Hour)}, []int{4, 3}},
		{"to exclusive", audit.Filter{To: base.Add(time.Hour)}, []int{0}},
		{"window and admin", audit.Filter{AdminID: a2, From: base.Add(time.Hour), To: base.Add(3 * time.Hour)}, []int{2}},
		{"nothing", audit.Filter{TargetID: "nope"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := audit.List(ctx, db.Pool, c.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range p.Records {
				got = append(got, r.ID)
			}
			var want []int64
			for _, i := range c.want {
				want = append(want, ids[i])
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("ids = %v, want %v", got, want)
			}
		})
	}

	// Paging two at a time visits every entry once, newest first.
	var seen []int64
	f := audit.Filter{Limit: 2}
	for range 5 {
		p, err := audit.List(ctx, db.Pool, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			seen = append(seen, r.ID)
		}
		if p.Next == "" {
			break
		}
		f.Cursor = p.Next
	}
	if fmt.Sprint(seen) != fmt.Sprint([]int64{ids[4], ids[3], ids[2], ids[1], ids[0]}) {
		t.Fatalf("paged ids = %v", seen)
	}

	for name, f := range map[string]audit.Filter{
		"bad admin":  {AdminID: "not-a-uuid"},
		"bad action": {Action: "DROP TABLE"},
		"bad cursor": {Cursor: "zzz"},
		"limit":      {Limit: audit.MaxLimit + 1},
		"window":     {From: base, To: base},
	} {
		if _, err := audit.List(ctx, db.Pool, f); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

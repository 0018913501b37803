package adminapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
)

// TestCannotRaiseOwnRights: an admin manager without every permission cannot grant
// themself or anyone roles beyond their own permissions, nor act on more powerful admins.
func TestCannotRaiseOwnRights(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newRole("admin_manager", admin.PermAdminsRead, admin.PermAdminsManage, admin.PermRidersRead)
	e.newRole("rider_reader", admin.PermRidersRead)
	mgrID := e.newAdmin("mgr@example.com", "admin_manager")
	peerID := e.newAdmin("peer@example.com", "rider_reader")
	tok := e.login("mgr@example.com", superPassword)
	rolesPath := func(id string) string { return "/admin/v1/admins/" + id + "/roles" }

	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"grant self super_admin", "PUT", rolesPath(mgrID), map[string]any{"roles": []string{"admin_manager", admin.RoleSuperAdmin}}, 403, adminapi.CodeSelfChange},
		{"grant self nothing new", "PUT", rolesPath(mgrID), map[string]any{"roles": []string{"admin_manager"}}, 403, adminapi.CodeSelfChange},
		{"disable self", "POST", "/admin/v1/admins/" + mgrID + "/disable", nil, 403, adminapi.CodeSelfChange},
		{"grant peer super_admin", "PUT", rolesPath(peerID), map[string]any{"roles": []string{admin.RoleSuperAdmin}}, 403, adminapi.CodeForbidden},
		{"grant peer finance", "PUT", rolesPath(peerID), map[string]any{"roles": []string{admin.RoleFinance}}, 403, adminapi.CodeForbidden},
		{"create an accomplice with super_admin", "POST", "/admin/v1/admins",
			map[string]any{"email": "alt@example.com", "display_name": "Alt", "password": superPassword, "roles": []string{admin.RoleSuperAdmin}}, 403, adminapi.CodeForbidden},
		{"demote the super admin", "PUT", rolesPath(e.super.AdminID), map[string]any{"roles": []string{}}, 403, adminapi.CodeForbidden},
		{"disable the super admin", "POST", "/admin/v1/admins/" + e.super.AdminID + "/disable", nil, 403, adminapi.CodeForbidden},
		{"unknown role", "PUT", rolesPath(peerID), map[string]any{"roles": []string{"pope"}}, 422, adminapi.CodeUnknownRole},
		{"unknown admin", "PUT", rolesPath("00000000-0000-4000-8000-000000000000"), map[string]any{"roles": []string{}}, 404, adminapi.CodeNotFound},
		// Within one's own permissions it works.
		{"grant peer admin_manager", "PUT", rolesPath(peerID), map[string]any{"roles": []string{"admin_manager"}}, 200, ""},
		{"create within own rights", "POST", "/admin/v1/admins",
			map[string]any{"email": "new@example.com", "display_name": "New", "password": superPassword, "roles": []string{"rider_reader"}}, 201, ""},
		{"duplicate email", "POST", "/admin/v1/admins",
			map[string]any{"email": "NEW@example.com", "display_name": "New", "password": superPassword, "roles": []string{}}, 409, adminapi.CodeEmailTaken},
		{"weak password", "POST", "/admin/v1/admins",
			map[string]any{"email": "weak@example.com", "display_name": "W", "password": "short", "roles": []string{}}, 422, adminapi.CodeInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, tok, c.body)
			if r.status != c.status || (c.code != "" && r.code(t) != c.code) {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, c.status, c.code)
			}
		})
	}
	// Nothing changed for the manager or the super admin.
	mgr, err := e.svc.GetAdmin(t.Context(), mgrID)
	if err != nil || fmt.Sprint(mgr.Roles) != "[admin_manager]" || mgr.Status != "active" {
		t.Fatalf("manager after attempts: %+v %v", mgr, err)
	}
	root, err := e.svc.GetAdmin(t.Context(), e.super.AdminID)
	if err != nil || fmt.Sprint(root.Roles) != "[super_admin]" || root.Status != "active" {
		t.Fatalf("super admin after attempts: %+v %v", root, err)
	}
	// A role change applies to the next request: the peer now manages admins.
	peerTok := e.login("peer@example.com", superPassword)
	if r := e.do("GET", "/admin/v1/admins", peerTok, nil); r.status != 200 {
		t.Fatalf("peer after promotion: %d", r.status)
	}
	if r := e.do("PUT", rolesPath(peerID), tok, map[string]any{"roles": []string{"rider_reader"}}); r.status != 200 {
		t.Fatalf("demote peer: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/admin/v1/admins", peerTok, nil); r.status != 403 {
		t.Fatalf("peer after demotion: %d", r.status)
	}
	// Only failed attempts were refused: the audit log holds exactly the successful writes.
	var actions []string
	for _, r := range e.auditEntries(audit.Filter{AdminID: mgrID}) {
		if r.Action != "admin.login" {
			actions = append(actions, r.Action+":"+r.TargetID)
		}
	}
	newAdmin := e.auditEntries(audit.Filter{Action: "admin.create", AdminID: mgrID})
	if len(newAdmin) != 1 {
		t.Fatalf("create entries: %+v", newAdmin)
	}
	want := []string{"admin.roles_set:" + peerID, "admin.create:" + newAdmin[0].TargetID, "admin.roles_set:" + peerID}
	if fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Fatalf("manager's audit entries %v, want %v", actions, want)
	}
}

// TestLastSuperAdminRemains: even an admin holding every permission cannot remove the last
// active super_admin.
func TestLastSuperAdminRemains(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.newRole("everything", admin.AllPermissions()...)
	e.newAdmin("all@example.com", "everything")
	tok := e.login("all@example.com", superPassword)
	for name, r := range map[string]response{
		"demote":  e.do("PUT", "/admin/v1/admins/"+e.super.AdminID+"/roles", tok, map[string]any{"roles": []string{"everything"}}),
		"disable": e.do("POST", "/admin/v1/admins/"+e.super.AdminID+"/disable", tok, nil),
	} {
		if r.status != 409 || r.code(t) != adminapi.CodeLastSuperAdmin {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// The refused changes rolled back with their audit entries (recorded before the check).
	if n := len(e.auditEntries(audit.Filter{TargetID: e.super.AdminID, Action: "admin.*"})); n != 1 { // admin.bootstrap
		t.Fatalf("%d entries about the super admin, want only the bootstrap", n)
	}
	// With a second super admin, the first can be disabled.
	second := e.newAdmin("root2@example.com", admin.RoleSuperAdmin)
	if r := e.do("POST", "/admin/v1/admins/"+e.super.AdminID+"/disable", tok, nil); r.status != 200 {
		t.Fatalf("disable with another super admin: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/admin/v1/admins/"+second+"/disable", tok, nil); r.status != 409 {
		t.Fatalf("disable the last one: %d %s", r.status, r.body)
	}
}

// TestWritesAreAuditedInTheSameTransaction checks each write's entry (who, what, target,
// before/after, from where) and that an audit failure rolls the change back.
func TestWritesAreAuditedInTheSameTransaction(t *testing.T) {
	t.Parallel()
	errAudit := errors.New("audit store down")
	var failAction string
	e := newEnv(t, func(c *admin.Config) {
		c.Record = func(ctx context.Context, tx pgx.Tx, en audit.Entry) (int64, error) {
			if en.Action == failAction {
				return 0, errAudit
			}
			return audit.Record(ctx, tx, en)
		}
	})
	tok := e.login(superEmail, superPassword)
	r := e.do("POST", "/admin/v1/admins", tok, map[string]any{"email": "a@example.com", "display_name": "A", "password": superPassword, "roles": []string{admin.RoleViewer}})
	var created adminapi.AdminBody
	r.json(t, &created)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", "/admin/v1/admins/"+created.ID+"/roles", tok, map[string]any{"roles": []string{admin.RoleSupport, admin.RoleFinance}}); r.status != 200 {
		t.Fatalf("roles: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/admin/v1/admins/"+created.ID+"/disable", tok, nil); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}

	type details struct {
		Before, After map[string]any
	}
	check := func(action string, wantBefore, wantAfter string) {
		t.Helper()
		rs := e.auditEntries(audit.Filter{Action: action, TargetType: "admin", TargetID: created.ID})
		if len(rs) != 1 {
			t.Fatalf("%s: %d entries", action, len(rs))
		}
		x := rs[0]
		if x.AdminID != e.super.AdminID || x.AdminEmail != superEmail || x.UserAgent != "admin-test/1" ||
			!x.IP.IsLoopback() || !strings.HasPrefix(x.RequestID, "req-") || !x.At.Equal(e.clock.Now()) {
			t.Fatalf("%s: who/where/when wrong: %+v", action, x)
		}
		var d details
		if err := json.Unmarshal(x.Details, &d); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(d.Before); wantBefore != "" && got != wantBefore {
			t.Errorf("%s before = %s, want %s", action, got, wantBefore)
		}
		if got := fmt.Sprint(d.After); !strings.Contains(got, wantAfter) {
			t.Errorf("%s after = %s, want it to contain %s", action, got, wantAfter)
		}
	}
	check("admin.create", "", "roles:[viewer]")
	check("admin.roles_set", "map[roles:[viewer]]", "map[roles:[finance support]]")
	check("admin.disable", "map[status:active]", "map[status:disabled]")

	// A failing change leaves no entry.
	before := len(e.auditEntries(audit.Filter{Limit: 500}))
	if r := e.do("POST", "/admin/v1/admins", tok, map[string]any{"email": "A@example.com", "display_name": "A", "password": superPassword, "roles": []string{}}); r.status != 409 {
		t.Fatalf("duplicate: %d", r.status)
	}
	if after := len(e.auditEntries(audit.Filter{Limit: 500})); after != before {
		t.Fatalf("a failed change wrote %d entries", after-before)
	}

	// A failing audit write rolls the change back.
	failAction = "admin.create"
	if r := e.do("POST", "/admin/v1/admins", tok, map[string]any{"email": "b@example.com", "display_name": "B", "password": superPassword, "roles": []string{}}); r.status != 500 || r.code(t) != adminapi.CodeInternal {
		t.Fatalf("create with audit down: %d %s", r.status, r.body)
	}
	var n int
	if err := e.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM admins WHERE email = 'b@example.com'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("admin created without its audit entry: %d %v", n, err)
	}
	failAction = ""
	other := e.newAdmin("c@example.com", admin.RoleViewer)
	failAction = "admin.roles_set"
	if r := e.do("PUT", "/admin/v1/admins/"+other+"/roles", tok, map[string]any{"roles": []string{admin.RoleFinance}}); r.status != 500 {
		t.Fatalf("roles with audit down: %d", r.status)
	}
	failAction = "admin.disable"
	if r := e.do("POST", "/admin/v1/admins/"+other+"/disable", tok, nil); r.status != 500 {
		t.Fatalf("disable with audit down: %d", r.status)
	}
	if a, err := e.svc.GetAdmin(t.Context(), other); err != nil || fmt.Sprint(a.Roles) != "[viewer]" || a.Status != "active" {
		t.Fatalf("changes without audit entries persisted: %+v %v", a, err)
	}
	failAction = "admin.login"
	if r := e.do("POST", "/admin/v1/auth/login", "", map[string]string{"email": "c@example.com", "password": superPassword}); r.status != 500 {
		t.Fatalf("login with audit down: %d", r.status)
	}
	var sessions int
	if err := e.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM admin_sessions WHERE admin_id = $1`, other).Scan(&sessions); err != nil || sessions != 0 {
		t.Fatalf("session opened without its audit entry: %d %v", sessions, err)
	}
}

func TestAuditEndpointFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := []string{e.newAdmin("x@example.com"), e.newAdmin("y@example.com")}
	e.clock.Add(time.Hour)
	if _, err := e.svc.SetRoles(t.Context(), e.super, ids[0], []string{admin.RoleViewer}, admin.Client{}); err != nil {
		t.Fatal(err)
	}
	tok := e.login(superEmail, superPassword)
	get := func(q url.Values) adminapi.AuditPageBody {
		t.Helper()
		r := e.do("GET", "/admin/v1/audit?"+q.Encode(), tok, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", q.Encode(), r.status, r.body)
		}
		var p adminapi.AuditPageBody
		r.json(t, &p)
		return p
	}
	actions := func(p adminapi.AuditPageBody) string {
		var s []string
		for _, x := range p.Entries {
			s = append(s, x.Action)
		}
		return strings.Join(s, ",")
	}
	start := e.clock.Now().Add(-time.Hour)
	cases := []struct {
		q    url.Values
		want string
	}{
		{url.Values{"target_id": {ids[0]}}, "admin.roles_set,admin.create"},
		{url.Values{"target_type": {"admin"}, "action": {"admin.create"}}, "admin.create,admin.create"},
		{url.Values{"action": {"admin.*"}, "admin": {e.super.AdminID}, "from": {start.Add(time.Minute).Format(time.RFC3339)}}, "admin.login,admin.roles_set"},
		{url.Values{"to": {start.Add(time.Minute).Format(time.RFC3339)}, "action": {"admin.bootstrap"}}, "admin.bootstrap"},
		{url.Values{"admin": {ids[1]}}, ""},
	}
	for _, c := range cases {
		if got := actions(get(c.q)); got != c.want {
			t.Errorf("%s: %s, want %s", c.q.Encode(), got, c.want)
		}
	}
	// Paging one by one reaches every entry.
	all := get(url.Values{"limit": {"500"}})
	var paged []int64
	q := url.Values{"limit": {"1"}}
	for range len(all.Entries) + 1 {
		p := get(q)
		for _, x := range p.Entries {
			paged = append(paged, x.ID)
		}
		if p.NextCursor == "" {
			break
		}
		q.Set("cursor", p.NextCursor)
	}
	if len(paged) != len(all.Entries) || len(paged) < 5 {
		t.Fatalf("paged %d entries, all %d", len(paged), len(all.Entries))
	}
	for q, code := range map[string]string{
		"admin=nope":        adminapi.CodeInvalidRequest,
		"limit=0":           adminapi.CodeInvalidRequest,
		"limit=501":         adminapi.CodeInvalidRequest,
		"cursor=zzz":        adminapi.CodeInvalidRequest,
		"action=DROP+TABLE": adminapi.CodeInvalidRequest,
		"from=yesterday":    adminapi.CodeInvalidRequest,
	} {
		if r := e.do("GET", "/admin/v1/audit?"+q, tok, nil); r.status != 422 || r.code(t) != code {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
}

// TestMutualDisable: two admin managers disabling each other at once end with exactly one
// disabled, the other refused (no deadlock, no 500).
func TestMutualDisable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newAdmin("a@example.com", admin.RoleSuperAdmin)
	b := e.newAdmin("b@example.com", admin.RoleSuperAdmin)
	ta, tb := e.login("a@example.com", superPassword), e.login("b@example.com", superPassword)
	res := make(chan int, 2)
	go func() { res <- e.do("POST", "/admin/v1/admins/"+b+"/disable", ta, nil).status }()
	go func() { res <- e.do("POST", "/admin/v1/admins/"+a+"/disable", tb, nil).status }()
	s1, s2 := <-res, <-res
	if !(s1 == 200 && s2 == 401 || s1 == 401 && s2 == 200) {
		t.Fatalf("statuses %d and %d, want one 200 and one 401", s1, s2)
	}
}

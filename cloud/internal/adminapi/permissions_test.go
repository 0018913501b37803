package adminapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
)

// seededMatrix is the permission matrix the migrations must seed (documented in the report).
var seededMatrix = map[string][]admin.Permission{
	admin.RoleViewer: {admin.PermAnalyticsRead, admin.PermTariffsRead, admin.PermVehiclesRead, admin.PermZonesRead},
	admin.RoleSupport: {admin.PermPaymentsRead, admin.PermRidersRead, admin.PermRidersSuspend, admin.PermTariffsRead,
		admin.PermVehiclesRead, admin.PermZonesRead},
	admin.RoleFleetOperator: {admin.PermAnalyticsRead, admin.PermFirmwareManage, admin.PermTariffsRead, admin.PermVehiclesCommand,
		admin.PermVehiclesManage, admin.PermVehiclesRead, admin.PermZonesRead, admin.PermZonesWrite},
	admin.RoleFinance: {admin.PermAnalyticsRead, admin.PermExportsCreate, admin.PermPaymentsRead, admin.PermRidersRead,
		admin.PermRidersRefund, admin.PermTariffsRead, admin.PermTariffsWrite, admin.PermVehiclesRead, admin.PermZonesRead},
	admin.RoleSuperAdmin: admin.AllPermissions(),
}

func TestSeededRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	roles, err := e.svc.Roles(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]admin.Permission{}
	for _, r := range roles {
		got[r.Name] = r.Permissions
	}
	for name, want := range seededMatrix {
		if fmt.Sprint(admin.NewPermissionSet(got[name]...).Sorted()) != fmt.Sprint(admin.NewPermissionSet(want...).Sorted()) {
			t.Errorf("role %s has %v, want %v", name, got[name], want)
		}
	}
	if len(got) != len(seededMatrix) {
		t.Errorf("roles %v, want exactly %d", got, len(seededMatrix))
	}
}

func fillPath(p string) string {
	return strings.ReplaceAll(p, "{id}", "00000000-0000-4000-8000-000000000000")
}

// TestEveryRouteEnforcesItsPermission walks every registered route: without a session it is 401
// (unless public), with a session lacking the declared permission 403, and with a role holding
// exactly that permission neither.
func TestEveryRouteEnforcesItsPermission(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	routes := e.api.Routes()
	if len(routes) < 13 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	e.newAdmin("nobody@example.com") // no roles, no permissions
	for _, p := range admin.AllPermissions() {
		e.newRole("only_"+strings.ReplaceAll(string(p), ".", "_"), p)
		e.newAdmin("only-"+string(p)+"@example.com", "only_"+strings.ReplaceAll(string(p), ".", "_"))
	}
	for role := range seededMatrix {
		e.newAdmin(role+"@example.com", role)
	}
	body := func(method string) any {
		if method == "POST" || method == "PUT" || method == "PATCH" {
			return map[string]any{}
		}
		return nil
	}
	seen := map[string]bool{}
	for _, r := range routes {
		t.Run(r.OperationID, func(t *testing.T) {
			e := *e
			e.t = t
			seen[r.Method+" "+r.Path] = true
			path := fillPath(r.Path)
			if r.Access.Public {
				if got := e.do(r.Method, path, "", body(r.Method)); got.status == 401 && got.code(t) == adminapi.CodeUnauthorized {
					t.Fatalf("public route answered 401 unauthorized: %s", got.body)
				}
				return
			}
			for name, tok := range map[string]string{"none": "", "garbage": "fea_nope", "unknown": "fea_" + strings.Repeat("A", 43)} {
				got := e.do(r.Method, path, tok, body(r.Method))
				if got.status != 401 || got.code(t) != adminapi.CodeUnauthorized || got.header.Get("WWW-Authenticate") == "" {
					t.Errorf("token %s: %d %s, want 401 unauthorized with a challenge", name, got.status, got.body)
				}
			}
			if r.Access.Permission == "" {
				got := e.do(r.Method, path, e.login("nobody@example.com", superPassword), body(r.Method))
				if got.status == 401 || got.status == 403 {
					t.Errorf("authenticated-only route refused an admin without roles: %d %s", got.status, got.body)
				}
				return
			}
			perm := r.Access.Permission
			got := e.do(r.Method, path, e.login("nobody@example.com", superPassword), body(r.Method))
			if got.status != 403 || got.code(t) != adminapi.CodeForbidden || !strings.Contains(string(got.body), string(perm)) {
				t.Errorf("no roles: %d %s, want 403 naming %s", got.status, got.body, perm)
			}
			got = e.do(r.Method, path, e.login("only-"+string(perm)+"@example.com", superPassword), body(r.Method))
			if got.status == 401 || got.status == 403 {
				t.Errorf("role with exactly %s: %d %s", perm, got.status, got.body)
			}
			for role, perms := range seededMatrix {
				has := admin.NewPermissionSet(perms...).Has(perm)
				got := e.do(r.Method, path, e.login(role+"@example.com", superPassword), body(r.Method))
				if has && (got.status == 401 || got.status == 403) {
					t.Errorf("role %s holds %s but got %d %s", role, perm, got.status, got.body)
				}
				if !has && got.status != 403 {
					t.Errorf("role %s lacks %s but got %d %s", role, perm, got.status, got.body)
				}
			}
		})
	}
	// Every operation in the OpenAPI document went through Register (nothing unguarded).
	for path, item := range e.api.Huma().OpenAPI().Paths {
		for method, op := range map[string]any{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete} {
			if op != nil && fmt.Sprint(op) != "<nil>" && !seen[method+" "+path] {
				t.Errorf("%s %s is in the document but not in Routes()", method, path)
			}
		}
	}
}

package adminapitest_test

import (
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
)

// The walk passes on the admin API's own routes (accounts, roles, audit), and an admin created
// with exactly one permission can use it.
func TestCheckAccessOnAccountRoutes(t *testing.T) {
	t.Parallel()
	e := adminapitest.New(t)
	adminapitest.CheckAccess(t, e, e.API.Routes(), nil)
	tok, _ := e.TokenWith("audit.read")
	if r := e.Do("GET", "/admin/v1/audit", tok, nil); r.Status != 200 {
		t.Fatalf("audit with audit.read: %d %s", r.Status, r.Body)
	}
	if got := e.Audit(audit.Filter{}); len(got) == 0 {
		t.Fatal("creating admins left no audit entries")
	}
}

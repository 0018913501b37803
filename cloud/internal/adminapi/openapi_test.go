package adminapi_test

import (
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
)

// TestOpenAPIDocumentIsPrecise checks the document of the accounts routes; the whole API's
// document (every area) is committed and checked in cloudsvc (TestAdminOpenAPICommitted).
func TestOpenAPIDocumentIsPrecise(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/admin/v1/openapi.json", "", nil)
	if r.status != 200 {
		t.Fatalf("openapi.json: %d", r.status)
	}
	adminapitest.CheckDocument(t, r.body)
}

package adminapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
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

// TestDeclaredCodesAreDocumented: an area's codes join the Problem code enum and the
// descriptions of the error responses of operations registered after.
func TestDeclaredCodesAreDocumented(t *testing.T) {
	t.Parallel()
	e := adminapitest.New(t)
	e.API.DeclareCodes(http.StatusConflict, "scooter_taken")
	adminapi.Register(e.API, huma.Operation{OperationID: "probe", Method: http.MethodPost, Path: "/admin/v1/probe"},
		adminapi.Requires(admin.PermVehiclesManage), []int{http.StatusConflict},
		func(context.Context, *struct{}) (*struct{}, error) { return nil, nil })
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct{ Description string }
		}
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct{ Enum []string }
			}
		}
	}
	e.Do("GET", "/admin/v1/openapi.json", "", nil).JSON(t, &doc)
	enum := doc.Components.Schemas["Problem"].Properties["code"].Enum
	if !slices.Contains(enum, "scooter_taken") || !slices.Contains(enum, adminapi.CodeEmailTaken) {
		t.Errorf("code enum %v lacks a declared or an own code", enum)
	}
	if d := doc.Paths["/admin/v1/probe"]["post"].Responses["409"].Description; !strings.Contains(d, "scooter_taken") {
		t.Errorf("409 description %q does not name the declared code", d)
	}
}

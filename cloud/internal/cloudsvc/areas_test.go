package cloudsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi/riderapitest"
)

var update = flag.Bool("update", false, "rewrite cloud/internal/adminapi/openapi.json from the wired admin API")

// committedOpenAPI is the admin API document as committed (clients are generated from it).
const committedOpenAPI = "../adminapi/openapi.json"

// areasEnv wires every area, as the cloud does, onto test rider/admin APIs sharing one fresh
// database; ClickHouse and NATS are absent (areas must cope: their routes answer 503).
func areasEnv(t *testing.T) *adminapitest.Env {
	t.Helper()
	ae := adminapitest.New(t)
	re := riderapitest.NewOn(t, ae.DB)
	a := &App{log: discardLogger(), reg: prometheus.NewRegistry(), live: livestate.New()}
	a.pg.Store(ae.DB.Pool)
	if err := a.registerAreas(re.API, ae.API, ae.Keyring); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.stopBackground(ctx); err != nil {
			t.Error(err)
		}
	})
	return ae
}

// TestAdminRoutesEnforceTheirPermissions walks every admin route of every area.
func TestAdminRoutesEnforceTheirPermissions(t *testing.T) {
	t.Parallel()
	e := areasEnv(t)
	adminapitest.CheckAccess(t, e, e.API.Routes(), nil)
}

// TestAdminOpenAPICommitted fails when the committed admin document differs from what the
// wired API serves, or is imprecise. Regenerate with
// go test ./cloud/internal/cloudsvc -run AdminOpenAPI -update
func TestAdminOpenAPICommitted(t *testing.T) {
	t.Parallel()
	e := areasEnv(t)
	r := e.Do("GET", "/admin/v1/openapi.json", "", nil)
	if r.Status != 200 {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	adminapitest.CheckDocument(t, r.Body)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, r.Body, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	if *update {
		if err := os.WriteFile(committedOpenAPI, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	committed, err := os.ReadFile(committedOpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, pretty.Bytes()) {
		t.Fatal("cloud/internal/adminapi/openapi.json is stale: run go test ./cloud/internal/cloudsvc -run AdminOpenAPI -update and commit it")
	}
}

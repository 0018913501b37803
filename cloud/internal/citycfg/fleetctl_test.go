package citycfg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/adminapi/adminapitest"
	"github.com/fleetedge/fleetedge/protocol/link"
)

var fleetctlBuild struct {
	once sync.Once
	dir  string
	bin  string
	out  []byte
	err  error
}

// buildFleetctl builds tools/cmd/fleetctl once per test binary.
func buildFleetctl(t *testing.T) string {
	t.Helper()
	buildGateway(t) // skips without the workspace
	fb := &fleetctlBuild
	fb.once.Do(func() {
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if fb.dir, fb.err = os.MkdirTemp("", "citycfg-fleetctl-"); fb.err != nil {
			return
		}
		fb.bin = filepath.Join(fb.dir, "fleetctl")
		fb.out, fb.err = exec.Command(gobin, "build", "-o", fb.bin, "github.com/fleetedge/fleetedge/tools/cmd/fleetctl").CombinedOutput()
	})
	if fb.err != nil {
		t.Fatalf("build fleetctl: %v\n%s", fb.err, fb.out)
	}
	return fb.bin
}

// TestFleetctlCityImport runs "fleetctl city import" (the binary) against the admin API
// with the demo city's zones and tariffs and a provisioned vehicles document: the first
// run creates everything and the cloud pushes it; a second run changes nothing; new prices
// in the file supersede the tariff in force from now.
func TestFleetctlCityImport(t *testing.T) {
	t.Parallel()
	bin := buildFleetctl(t)
	b := openBus(t, 0)
	d := newDownlink(t, b)
	e := newEnv(t, d)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(adminapitest.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var vf struct {
		V        int                  `json:"v"`
		City     string               `json:"city"`
		Version  int                  `json:"version"`
		Vehicles []link.VehicleConfig `json:"vehicles"`
	}
	vf.V, vf.City, vf.Version = 1, "barcelona", 1
	for i := 1; i <= 50; i++ {
		vf.Vehicles = append(vf.Vehicles, link.VehicleConfig{ID: fmt.Sprintf("BCN%05d", i), Type: "escooter",
			CredentialHash: hashOf(i), NormalLimitKmh: 25})
	}
	vehiclesFile := filepath.Join(dir, "vehicles.json")
	writeJSON(t, vehiclesFile, vf)
	demo := filepath.Join("..", "..", "..", "deploy", "demo", "barcelona")
	tariffsFile := filepath.Join(dir, "tariffs.json")
	tariffs, err := os.ReadFile(filepath.Join(demo, "tariffs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tariffsFile, tariffs, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() string {
		t.Helper()
		cmd := exec.Command(bin, "city", "import", "--cloud", e.URL, "--admin-email", "root@example.com",
			"--admin-password-file", pwFile, "--city", "barcelona", "--gateway", "barcelona-gw-1",
			"--zones", filepath.Join(demo, "geofencing_zones.json"), "--vehicles", vehiclesFile, "--tariffs", tariffsFile,
			"--wait", "20s")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("fleetctl: %v\n%s%s", err, stdout.String(), stderr.String())
		}
		if strings.Contains(stdout.String()+stderr.String(), adminapitest.Password) {
			t.Error("fleetctl printed the password")
		}
		return stdout.String()
	}

	first := run()
	t.Logf("first run:\n%s", first)
	for _, want := range []string{"city barcelona: created (EUR, Europe/Madrid)", "gateway barcelona-gw-1: created",
		"zones: version 1 uploaded (14 zones)", "vehicles: 50 created, 0 updated, 0 unchanged", "tariffs: 1 created",
		"gateway config: tariffs v", "vehicles v"} {
		if !strings.Contains(first, want) {
			t.Errorf("first run lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(first, "pending") {
		t.Errorf("documents still pending after --wait:\n%s", first)
	}
	var vdoc link.VehiclesDoc
	published(t, d, "barcelona", link.ConfigVehicles, &vdoc)
	if len(vdoc.Vehicles) != 50 || vdoc.Vehicles[0].CredentialHash != hashOf(1) {
		t.Errorf("vehicles in the bucket: %d", len(vdoc.Vehicles))
	}
	var v struct{ Vehicle VehicleBody }
	e.must(200, "GET", "/admin/v1/vehicles/BCN00007", nil).JSON(t, &v)
	if v.Vehicle.Gateway != "barcelona-gw-1" || v.Vehicle.City != "barcelona" {
		t.Errorf("vehicle: %+v", v.Vehicle)
	}
	statesBefore, _ := DocStates(t.Context(), e.DB.Pool, mustCity(t, e, "barcelona").ID)

	second := run()
	for _, want := range []string{"city barcelona: exists", "gateway barcelona-gw-1: exists", "zones: version 1 unchanged",
		"vehicles: 0 created, 0 updated, 50 unchanged", "tariffs: 0 created"} {
		if !strings.Contains(second, want) {
			t.Errorf("second run lacks %q:\n%s", want, second)
		}
	}
	statesAfter, _ := DocStates(t.Context(), e.DB.Pool, mustCity(t, e, "barcelona").ID)
	for i := range statesBefore {
		if statesBefore[i].Version != statesAfter[i].Version {
			t.Errorf("second run changed %s: v%d → v%d", statesBefore[i].Kind, statesBefore[i].Version, statesAfter[i].Version)
		}
	}

	// New prices in the file: a tariff from now supersedes the one in force; a third run
	// with the same file changes nothing again.
	writeJSON(t, tariffsFile, map[string]any{"currency": "EUR", "tariffs": []map[string]any{{
		"effective_from": "2026-01-01T00:00:00Z", "unlock_fee_minor": 100, "per_minute_minor": 29}}})
	if third := run(); !strings.Contains(third, "tariffs: 1 created") {
		t.Errorf("new prices:\n%s", third)
	}
	if fourth := run(); !strings.Contains(fourth, "tariffs: 0 created") {
		t.Errorf("same new prices again:\n%s", fourth)
	}
	var list struct{ Tariffs []TariffBody }
	e.must(200, "GET", "/admin/v1/cities/barcelona/tariffs", nil).JSON(t, &list)
	if len(list.Tariffs) != 2 || list.Tariffs[0].EffectiveTo == nil || list.Tariffs[1].PerMinuteMinor != 29 ||
		!list.Tariffs[1].EffectiveFrom.Equal(*list.Tariffs[0].EffectiveTo) || time.Since(list.Tariffs[1].EffectiveFrom) > time.Minute {
		t.Errorf("tariffs after a price change: %+v", list.Tariffs)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

package cloudsvc

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/shared/devicecred"
)

// TestAppDownlink: the running cloud publishes a city's configuration to its KV
// bucket (refusing a stale version) and reports a city without a gateway as such.
func TestAppDownlink(t *testing.T) {
	cfg := testConfig(t, RoleAll)
	app, cancel, runErr := startApp(t, cfg)
	waitReady(t, app, runErr)
	dl := app.Downlink()
	if dl == nil {
		t.Fatal("no downlink in role all")
	}
	doc := &link.VehiclesDoc{V: link.Version, City: "riga", Version: 3, Updated: time.Now().UTC(),
		Vehicles: []link.VehicleConfig{{ID: "RG001", Type: "escooter", CredentialHash: devicecred.Hash("s"), NormalLimitKmh: 20}}}
	if _, err := dl.PublishConfig(t.Context(), "riga", doc); err != nil {
		t.Fatal(err)
	}
	got, err := dl.CurrentConfig(t.Context(), "riga", link.ConfigVehicles)
	if err != nil || got.Version != 3 {
		t.Fatalf("CurrentConfig = %+v, %v", got, err)
	}
	stale := *doc
	stale.Version = 2
	if _, err := dl.PublishConfig(t.Context(), "riga", &stale); !errors.Is(err, downlink.ErrNotNewer) {
		t.Fatalf("stale version: err = %v, want ErrNotNewer", err)
	}
	_, err = dl.SendCommand(t.Context(), "riga", link.CommandRequest{V: link.Version, ID: "c1", Vehicle: "RG001",
		Code: 28, Source: "test", TimeoutMs: 1000})
	if !errors.Is(err, downlink.ErrNoGateway) {
		t.Fatalf("command to a city without gateway: err = %v, want ErrNoGateway", err)
	}
	// The SIGHUP path reaches the bus: this one has no roster file to re-read.
	if err := app.ReloadGatewayRoster(); err == nil || !strings.Contains(err.Error(), "no roster file") {
		t.Fatalf("reload without a roster file: %v", err)
	}
	stopApp(t, app, cancel, runErr)
}

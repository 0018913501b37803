package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/fleetedge/fleetedge/protocol/link"
)

func TestProvisionKeepsFilesAndRunSimulates(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := dispatch(context.Background(), []string{"provision", "--n", "6", "--out", dir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(dir, vehiclesFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc link.VehiclesDoc
	if err := json.Unmarshal(first, &doc); err != nil || doc.Validate() != nil || len(doc.Vehicles) != 6 || doc.City != "barcelona" {
		t.Fatalf("vehicles file: %v %+v", err, doc)
	}
	if err := dispatch(context.Background(), []string{"provision", "--n", "6", "--out", dir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, vehiclesFile))
	if !bytes.Equal(first, again) {
		t.Fatal("provision overwrote existing files without --force")
	}

	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := srv.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	root := filepath.Join("..", "..", "..", "deploy", "demo", "barcelona")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	out.Reset()
	err = dispatch(ctx, []string{"run", "--broker", tcp.Address(), "--creds", filepath.Join(dir, secretsFile),
		"--shard", "1/2", "--city", filepath.Join(root, "streets.json"), "--zones", filepath.Join(root, "geofencing_zones.json"),
		"--gps-interval", "100ms", "--status-every", "300ms", "--log-level", "warn"}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "scooters=3 connected=3") {
		t.Fatalf("status lines:\n%s", out.String())
	}
}

func TestRunFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--shard", "2/2"},
		{"--shard", "x"},
		{"--creds", "", "--n", "3"},
		{"--n", "-1"},
		{"extra"},
	} {
		if _, err := parseRun(args, io.Discard); err == nil {
			t.Errorf("parseRun(%q) accepted", args)
		}
	}
}

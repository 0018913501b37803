package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
	"github.com/fleetedge/fleetedge/tools/sim"
)

// Output file names of provision.
const (
	vehiclesFile = "vehicles.json"        // for the gateway: link.VehiclesDoc (hashes only)
	secretsFile  = "sim-credentials.json" // for the simulator: secrets in clear (demo only)
)

// provisionCmd writes a gateway vehicles file and the matching simulator
// credentials file. Existing files are kept unless --force, so repeated
// `make run`s keep the same credentials.
func provisionCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		n      = fs.Int("n", 300, "number of vehicles")
		out    = fs.String("out", "deploy/demo/barcelona", "directory for "+vehiclesFile+" and "+secretsFile)
		city   = fs.String("city", "barcelona", "city id")
		prefix = fs.String("prefix", "BCN", "vehicle number prefix (numbers are prefix + 5 digits)")
		offset = fs.Int("offset", 1, "first vehicle index")
		typ    = fs.String("type", "escooter", "GBFS vehicle_type_id")
		limit  = fs.Int("normal-limit", 25, "normal speed limit, km/h")
		force  = fs.Bool("force", false, "overwrite existing files")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	vPath, sPath := filepath.Join(*out, vehiclesFile), filepath.Join(*out, secretsFile)
	if !*force && exists(vPath) && exists(sPath) {
		fmt.Fprintf(stdout, "provision: %s and %s exist, kept (use --force to regenerate)\n", vPath, sPath)
		return nil
	}
	doc, sec, err := sim.Provision(sim.ProvisionOptions{
		City: link.CityID(*city), N: *n, Prefix: *prefix, Offset: *offset, Type: *typ,
		NormalLimitKmh: *limit, Now: time.Now(),
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	if err := writeJSON(vPath, doc, 0o644); err != nil {
		return err
	}
	if err := writeJSON(sPath, sec, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "provision: %d vehicles → %s (gateway), %s (simulator, demo secrets)\n", *n, vPath, sPath)
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

func writeJSON(path string, v any, mode os.FileMode) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), mode); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	return nil
}

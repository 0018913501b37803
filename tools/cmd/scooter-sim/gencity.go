package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fleetedge/fleetedge/tools/citymap"
	"github.com/fleetedge/fleetedge/tools/democity"
)

// genCity writes the demo city's street file and zones file into --out.
func genCity(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen-city", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "deploy/demo/barcelona", "directory for streets.json and geofencing_zones.json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := democity.Streets()
	if err != nil {
		return err
	}
	streets, err := citymap.Encode(f)
	if err != nil {
		return err
	}
	zones, err := democity.Zones(f, democity.Updated)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("gen-city: %w", err)
	}
	for name, data := range map[string][]byte{"streets.json": streets, "geofencing_zones.json": zones} {
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			return fmt.Errorf("gen-city: %w", err)
		}
	}
	fmt.Fprintf(stdout, "wrote %s: %d nodes, %d streets\n", *out, len(f.Nodes), len(f.Streets))
	return nil
}

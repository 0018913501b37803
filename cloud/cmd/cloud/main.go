// Command cloud runs the fleetedge cloud: NATS JetStream (embedded or external), PostgreSQL and
// ClickHouse with their migrations, and the HTTP endpoints, for the role given by --role.
// `cloud --help` lists every flag and environment variable.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetedge/fleetedge/cloud/internal/cloudsvc"
	"github.com/fleetedge/fleetedge/shared/obs"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "cloud:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	inv, err := cloudsvc.LoadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if inv.PrintConfig {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(inv.Config) // secrets mask themselves
	}
	log, err := obs.NewLogger(stderr, inv.Config.Log)
	if err != nil {
		return err
	}

	// The first SIGINT/SIGTERM starts a graceful shutdown; once it is underway the default
	// handlers are restored, so a second signal kills the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	app, err := cloudsvc.New(inv.Config, log)
	if err != nil {
		return err
	}
	// SIGHUP re-reads the gateways roster (add or remove a gateway without a restart).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if err := app.ReloadGatewayRoster(); err != nil {
				log.Error("SIGHUP: gateways roster not reloaded", "err", err)
			} else {
				log.Info("SIGHUP: gateways roster reloaded")
			}
		}
	}()
	runErr := app.Run(ctx)
	return errors.Join(runErr, app.Close())
}

// Command gateway runs a fleetedge city gateway: the embedded MQTT broker the
// scooters connect to, their live state, the durable outbox and the local HTTP
// endpoints. With no configuration it serves MQTT on :1883 and HTTP on :8080
// and keeps its data in ./.data/edge. `gateway --help` lists every flag and
// environment variable. `gateway hash-password` reads a password on stdin and
// prints its argon2id hash for the field UI's accounts.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/fleetedge/fleetedge/edge/internal/fieldui"
	"github.com/fleetedge/fleetedge/edge/internal/gateway"
	"github.com/fleetedge/fleetedge/shared/obs"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "hash-password" {
		return hashPassword(os.Stdin, stdout)
	}
	inv, err := gateway.LoadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if inv.PrintConfig {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(inv.Config)
	}
	log, err := obs.NewLogger(stderr, inv.Config.Log)
	if err != nil {
		return err
	}
	log.Info("starting gateway", "config", inv.Config)

	// The first SIGINT/SIGTERM starts a graceful shutdown; after it the default
	// handlers are back, so a second signal kills the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	g, err := gateway.New(inv.Config, log)
	if err != nil {
		return err
	}
	runErr := g.Run(ctx)
	return errors.Join(runErr, g.Close())
}

// hashPassword reads a password (first line of in) and prints its argon2id
// hash, for the field UI's break-glass account (--ui-break-glass-hash) and
// local accounts files: `gateway hash-password < file` or interactively.
func hashPassword(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("hash-password: read: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 12 {
		return errors.New("hash-password: give a password of at least 12 characters on the first line of stdin")
	}
	h, err := fieldui.HashPassword(pw, fieldui.DefaultArgon2)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, h)
	return err
}

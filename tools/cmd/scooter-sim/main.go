// Command scooter-sim runs a fleet of simulated scooters against a gateway's
// MQTT broker (run), provisions demo vehicle credentials (provision) and
// generates the demo city's data (gen-city).
//
//	scooter-sim [run] --broker 127.0.0.1:1883 --creds deploy/demo/barcelona/sim-credentials.json
//	scooter-sim provision --n 300 --out deploy/demo/barcelona
//	scooter-sim gen-city --out deploy/demo/barcelona
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "scooter-sim:", err)
		os.Exit(1)
	}
}

// dispatch runs one subcommand; "run" is the default.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "run":
			return runCmd(ctx, args[1:], stdout, stderr)
		case "provision":
			return provisionCmd(args[1:], stdout, stderr)
		case "gen-city":
			return genCity(args[1:], stdout, stderr)
		case "help", "-h", "--help":
			fmt.Fprintln(stdout, "usage: scooter-sim [run|provision|gen-city] [flags]; scooter-sim <cmd> -h for flags")
			return nil
		}
	}
	return runCmd(ctx, args, stdout, stderr)
}

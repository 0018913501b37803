// Command fleetctl is the operator's command-line tool for fleetedge.
//
//	fleetctl help [COMMAND...]
//	fleetctl geo inverse LAT1 LON1 LAT2 LON2
//	fleetctl geo direct LAT1 LON1 AZI1 S12
//
// Exit status: 0 on success, 2 for bad arguments (usage errors), 1 for
// any other failure.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(report(err, os.Stderr))
}

// Command scooter-sim runs a fleet of simulated scooters against a gateway's
// MQTT broker, provisions demo vehicle credentials and generates the demo city.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := dispatch(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "scooter-sim:", err)
		os.Exit(1)
	}
}

func dispatch(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "gen-city":
			return genCity(args[1:], os.Stdout)
		}
	}
	return fmt.Errorf("usage: scooter-sim [run|provision|gen-city] [flags]")
}

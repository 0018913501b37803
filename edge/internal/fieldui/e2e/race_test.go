//go:build race

package e2e

// raceEnabled: the gateway binary is built with -race too, so it reuses the
// packages `go test -race work` already compiled instead of a cold build.
const raceEnabled = true

//go:build race

package ingest

// raceEnabled makes the end-to-end helper build with -race too, reusing the
// race-instrumented packages `go test -race work` has already compiled.
const raceEnabled = true

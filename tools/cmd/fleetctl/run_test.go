package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/shared/geo"
)

// runCLI runs the command line and returns stdout, stderr (as main would
// print it) and the exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(""), &out, &errb)
	status = report(err, &errb)
	return out.String(), errb.String(), status
}

func TestGeoInverse(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"sydney to san francisco", []string{"-33.8688", "151.2093", "37.7749", "-122.4194"}},
		{"short", []string{"52.52", "13.405", "52.527", "13.418"}},
		{"coincident", []string{"0", "0", "0", "0"}},
		{"pole to pole", []string{"-90", "0", "90", "180"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := runCLI(t, append([]string{"geo", "inverse"}, tc.args...)...)
			if status != 0 || stderr != "" {
				t.Fatalf("status %d, stderr %q", status, stderr)
			}
			var got map[string]float64
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("output %q: %v", stdout, err)
			}
			var v [4]float64
			for i, a := range tc.args {
				if err := json.Unmarshal([]byte(a), &v[i]); err != nil {
					t.Fatal(err)
				}
			}
			s12, azi1, azi2 := geo.Inverse(v[0], v[1], v[2], v[3])
			want := map[string]float64{"s12_m": s12, "azi1_deg": azi1, "azi2_deg": azi2}
			if len(got) != 3 || got["s12_m"] != want["s12_m"] || got["azi1_deg"] != want["azi1_deg"] || got["azi2_deg"] != want["azi2_deg"] {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestGeoDirect(t *testing.T) {
	stdout, stderr, status := runCLI(t, "geo", "direct", "0", "-0.5", "90", "111319.49079327357")
	if status != 0 {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	var got struct{ Lat2, Lon2, Azi2 float64 }
	if err := json.Unmarshal([]byte(stdout), &struct {
		Lat2 *float64 `json:"lat2_deg"`
		Lon2 *float64 `json:"lon2_deg"`
		Azi2 *float64 `json:"azi2_deg"`
	}{&got.Lat2, &got.Lon2, &got.Azi2}); err != nil {
		t.Fatalf("output %q: %v", stdout, err)
	}
	if got.Lat2 != 0 || got.Azi2 != 90 || got.Lon2 < 0.5-1e-12 || got.Lon2 > 0.5+1e-12 {
		t.Errorf("got %+v, want lat 0, lon 0.5, azi 90", got)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr []string
	}{
		{"no arguments", nil, []string{"missing command", "geo", "fleetctl help'"}},
		{"unknown command", []string{"bogus"}, []string{`unknown command "bogus"`}},
		{"geo without subcommand", []string{"geo"}, []string{"geo: missing command", "inverse, direct"}},
		{"unknown geo subcommand", []string{"geo", "area"}, []string{`unknown command "area"`}},
		{"too few", []string{"geo", "inverse", "1", "2", "3"}, []string{"need 4 arguments LAT1 LON1 LAT2 LON2, got 3", "fleetctl help geo inverse"}},
		{"too many", []string{"geo", "inverse", "1", "2", "3", "4", "5"}, []string{"got 5"}},
		{"not a number", []string{"geo", "inverse", "1", "x", "3", "4"}, []string{`LON1: "x" is not a number`}},
		{"latitude out of range", []string{"geo", "inverse", "91", "0", "0", "0"}, []string{"latitude 91 outside [-90, 90]"}},
		{"longitude out of range", []string{"geo", "inverse", "0", "0", "0", "-181"}, []string{"point 2", "longitude -181"}},
		{"NaN", []string{"geo", "inverse", "NaN", "0", "0", "0"}, []string{"latitude NaN"}},
		{"unknown flag", []string{"geo", "inverse", "-x", "1", "2", "3", "4"}, []string{"flag provided but not defined: -x"}},
		{"direct infinite distance", []string{"geo", "direct", "0", "0", "0", "Inf"}, []string{"distance +Inf is not finite"}},
		{"help for unknown", []string{"help", "nope"}, []string{`unknown command "nope"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, status := runCLI(t, tc.args...)
			if status != 2 {
				t.Errorf("status = %d, want 2", status)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.HasPrefix(stderr, "fleetctl: ") {
				t.Errorf("stderr %q lacks the program prefix", stderr)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
	// The typed error carries the coordinate error.
	err := run(t.Context(), []string{"geo", "inverse", "91", "0", "0", "0"}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	var ue *usageError
	if !errors.As(err, &ue) || !errors.Is(err, geo.ErrInvalidCoordinate) {
		t.Errorf("error %v: want *usageError wrapping geo.ErrInvalidCoordinate", err)
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"usage: fleetctl <command>", "geo <command>"}},
		{[]string{"-h"}, []string{"usage: fleetctl <command>"}},
		{[]string{"help", "geo"}, []string{"usage: fleetctl geo <command>", "inverse LAT1 LON1 LAT2 LON2", "direct LAT1 LON1 AZI1 S12"}},
		{[]string{"geo", "help"}, []string{"usage: fleetctl geo <command>"}},
		{[]string{"help", "geo", "inverse"}, []string{"usage: fleetctl geo inverse LAT1 LON1 LAT2 LON2", "s12_m"}},
		{[]string{"geo", "inverse", "-h"}, []string{"usage: fleetctl geo inverse LAT1 LON1 LAT2 LON2"}},
		{[]string{"geo", "direct", "--help"}, []string{"usage: fleetctl geo direct LAT1 LON1 AZI1 S12"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr, status := runCLI(t, tc.args...)
			if status != 0 || stderr != "" {
				t.Fatalf("status %d, stderr %q", status, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("help %q lacks %q", stdout, w)
				}
			}
		})
	}
}

func TestProtectNumbers(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Bool("v", false, "")
	fs.String("format", "", "")
	tests := []struct {
		in, want []string
	}{
		{[]string{"-33.8", "151"}, []string{"--", "-33.8", "151"}},
		{[]string{"-v", "-33.8"}, []string{"-v", "--", "-33.8"}},
		{[]string{"-format", "-1", "-2"}, []string{"-format", "-1", "--", "-2"}},
		{[]string{"-format=json", "1"}, []string{"-format=json", "--", "1"}},
		{[]string{"--", "-1"}, []string{"--", "-1"}},
		{[]string{"-v"}, []string{"-v"}},
		{nil, nil},
	}
	for _, tc := range tests {
		if got := protectNumbers(fs, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("protectNumbers(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestContextPassed checks that leaves receive run's context, so that
// later long-running subcommands can stop on cancel.
func TestContextPassed(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var seen context.Context
	c := command{name: "probe", setup: func(*flag.FlagSet) leafFunc {
		return func(ctx context.Context, _ streams, _ []string) error {
			seen = ctx
			return ctx.Err()
		}
	}}
	err := dispatch(ctx, streams{}, command{name: "fleetctl", subs: []command{c}}, nil, []string{"probe"})
	if !errors.Is(err, context.Canceled) || seen == nil {
		t.Errorf("err = %v, seen ctx = %v", err, seen)
	}
	if status := report(err, &bytes.Buffer{}); status != 1 {
		t.Errorf("status for a runtime error = %d, want 1", status)
	}
}

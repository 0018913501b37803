package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The import itself runs against the real admin API in cloud/internal/citycfg
// (TestFleetctlCityImport builds this binary); these tests cover what needs no cloud.

func TestCityImportUsage(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"city": "madrid", "vehicles": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"no credentials", []string{"--city", "x"}, 2, "--admin-email and --admin-password-file are required"},
		{"no city", []string{"--admin-email", "a@b.c", "--admin-password-file", pw}, 2, "--city is required"},
		{"positional", []string{"--city", "x", "--admin-email", "a@b.c", "--admin-password-file", pw, "extra"}, 2, "unexpected arguments"},
		{"missing password file", []string{"--city", "x", "--admin-email", "a@b.c", "--admin-password-file", filepath.Join(dir, "none")}, 1, "admin password"},
		{"vehicles of another city", []string{"--city", "barcelona", "--admin-email", "a@b.c", "--admin-password-file", pw,
			"--vehicles", bad}, 1, `is for city "madrid"`},
		{"bad cloud URL", []string{"--city", "x", "--admin-email", "a@b.c", "--admin-password-file", pw, "--cloud", "localhost:8090"}, 2, "want http(s)://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, status := runCLI(t, append([]string{"city", "import"}, tc.args...)...)
			if status != tc.status || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("status %d, stderr %q; want %d and %q", status, stderr, tc.status, tc.stderr)
			}
			if strings.Contains(stderr, "secret") {
				t.Error("the password was printed")
			}
		})
	}
}

func TestSamePricesAndInForce(t *testing.T) {
	base := tariffTerms{UnlockFeeMinor: 100, PerMinuteMinor: 25,
		ZoneSurcharges: []zoneSurcharge{{Zone: "a", PerMinuteMinor: 5}, {Zone: "b", FixedMinor: 50}}}
	reordered := base
	reordered.ZoneSurcharges = []zoneSurcharge{{Zone: "b", FixedMinor: 50}, {Zone: "a", PerMinuteMinor: 5}}
	reordered.EffectiveFrom = time.Now()
	dearer := base
	dearer.PerMinuteMinor = 30
	lessSurcharge := base
	lessSurcharge.ZoneSurcharges = base.ZoneSurcharges[:1]
	for _, tc := range []struct {
		name string
		a, b tariffTerms
		want bool
	}{
		{"same, surcharges reordered, other dates", base, reordered, true},
		{"per minute differs", base, dearer, false},
		{"a surcharge less", base, lessSurcharge, false},
	} {
		if got := samePrices(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: %v", tc.name, got)
		}
	}

	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mar := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ts := []tariffTerms{{ID: 1, EffectiveFrom: jan, EffectiveTo: &mar}, {ID: 2, EffectiveFrom: mar}}
	for _, tc := range []struct {
		at   time.Time
		want int64
	}{{jan.Add(-time.Second), 0}, {jan, 1}, {mar.Add(-time.Second), 1}, {mar, 2}, {mar.AddDate(5, 0, 0), 2}} {
		got, ok := inForce(ts, tc.at)
		if (tc.want == 0) == ok || got.ID != tc.want {
			t.Errorf("at %s: %d %v, want %d", tc.at, got.ID, ok, tc.want)
		}
	}
}

package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/edge/internal/fieldui"
)

func uiLogin(t *testing.T, g *Gateway, user, pw string) int {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	res, err := http.Post("http://"+g.Addrs().HTTP+"/ui/api/login", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// The accounts file is stored in the configstore: a restart without it (the
// cloud unreachable, no file) still lets the technicians in; the break-glass
// account comes from the configuration.
func TestFieldUIAccountsStoredAndBreakGlass(t *testing.T) {
	dir := t.TempDir()
	cheap := fieldui.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	h, err := fieldui.HashPassword("tech-password", cheap)
	if err != nil {
		t.Fatal(err)
	}
	bg, err := fieldui.HashPassword("rescue-password", cheap)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(fieldui.AccountsDoc{V: fieldui.AccountsVersion, Version: 3,
		Accounts: []fieldui.AccountEntry{{Username: "tech", PasswordHash: h}}})
	path := filepath.Join(dir, "accounts.json")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(dir)
	cfg.UI.AccountsFile = path
	r := start(t, cfg)
	if code := uiLogin(t, r.g, "tech", "tech-password"); code != http.StatusOK {
		t.Fatalf("login with the file: %d", code)
	}
	if code := uiLogin(t, r.g, "rescue", "rescue-password"); code != http.StatusUnauthorized {
		t.Fatalf("break-glass not configured: %d", code)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	cfg.UI.AccountsFile = ""
	cfg.UI.BreakGlassUser, cfg.UI.BreakGlassHash = "rescue", bg
	r = start(t, cfg)
	if code := uiLogin(t, r.g, "tech", "tech-password"); code != http.StatusOK {
		t.Fatalf("login from the stored accounts: %d", code)
	}
	if code := uiLogin(t, r.g, "rescue", "rescue-password"); code != http.StatusOK {
		t.Fatalf("break-glass login: %d", code)
	}
}

func TestFieldUIBadConfig(t *testing.T) {
	for name, mod := range map[string]func(c *Config){
		"tile URL without {z}":    func(c *Config) { c.UI.TileURL = "https://tiles.example.org/x.png" },
		"break-glass user only":   func(c *Config) { c.UI.BreakGlassUser = "rescue" },
		"break-glass plain pw":    func(c *Config) { c.UI.BreakGlassUser, c.UI.BreakGlassHash = "rescue", "hunter2" },
		"low battery over 100":    func(c *Config) { c.UI.LowBatteryPct = 101 },
		"accounts file not there": func(c *Config) { c.UI.AccountsFile = "/nonexistent/accounts.json" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			mod(&cfg)
			g, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				_ = g.Close()
				t.Fatal("New accepted the configuration")
			}
			if name != "accounts file not there" && !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v does not wrap ErrConfig", err)
			}
		})
	}
}

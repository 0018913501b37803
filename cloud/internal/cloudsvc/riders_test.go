package cloudsvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func postJSON(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: %d, body: %v", url, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// TestAppServesRiderAPI: the running cloud serves the rider API on /v1/: sign up, log
// in, read the profile with the access token; a wrong password is a problem+json 401.
func TestAppServesRiderAPI(t *testing.T) {
	cfg := testConfig(t, RoleAll)
	app, cancel, runErr := startApp(t, cfg)
	waitReady(t, app, runErr)
	base := "http://" + app.HTTPAddr() + "/v1"

	code, body := postJSON(t, base+"/auth/signup", map[string]any{"first_name": "Ada", "last_name": "Lovelace",
		"email": "Ada@Example.com", "password": "correct horse battery"})
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("signup: %d %v", code, body)
	}
	code, body = postJSON(t, base+"/auth/login", map[string]any{"email": "ada@example.com", "password": "correct horse battery"})
	token, _ := body["access_token"].(string)
	if code != http.StatusOK || token == "" {
		t.Fatalf("login: %d %v", code, body)
	}
	req, err := http.NewRequest(http.MethodGet, base+"/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me map[string]any
	err = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || me["email"] != "ada@example.com" {
		t.Fatalf("me: %d %v %v", resp.StatusCode, me, err)
	}
	code, body = postJSON(t, base+"/auth/login", map[string]any{"email": "ada@example.com", "password": "wrong password!!"})
	if code != http.StatusUnauthorized || body["code"] != "invalid_credentials" {
		t.Fatalf("wrong password: %d %v", code, body)
	}
	if code, spec := get(t, base+"/openapi.json"); code != 200 || !strings.Contains(spec, `"openapi":"3.1`) {
		t.Fatalf("openapi: %d %.200s", code, spec)
	}
	stopApp(t, app, cancel, runErr)
}

func TestKeyringConfig(t *testing.T) {
	cfg := Default()
	cfg.Role = RoleAPI
	cfg.FieldCrypt.Keys = "k1:AAAA"
	if err := cfg.Validate(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "fieldcrypt") {
		t.Fatalf("keys without current key: %v", err)
	}
	// No keyring: a development key is created once in the data dir and reused.
	cfg = Default()
	cfg.DataDir = t.TempDir()
	kr1, dev, err := cfg.keyring()
	if err != nil || !dev {
		t.Fatalf("dev keyring: %v dev=%v", err, dev)
	}
	sealed, err := kr1.Seal([]byte("+34 600 000 000"), []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	kr2, _, err := cfg.keyring()
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kr2.Open(sealed, []byte("ctx")); err != nil || string(pt) != "+34 600 000 000" {
		t.Fatalf("a restart must reuse the development key: %q %v", pt, err)
	}
}

// TestAppServesAdminAPI: the first super admin is created from the bootstrap settings,
// logs in on /admin/v1/, and reads the audit log that recorded its creation; riders'
// tokens and anonymous calls are refused.
func TestAppServesAdminAPI(t *testing.T) {
	cfg := testConfig(t, RoleAll)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("a long bootstrap password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Admin = AdminConfig{BootstrapEmail: "root@example.com", BootstrapPasswordFile: pwFile}
	app, cancel, runErr := startApp(t, cfg)
	waitReady(t, app, runErr)
	base := "http://" + app.HTTPAddr() + "/admin/v1"

	code, body := postJSON(t, base+"/auth/login", map[string]any{"email": "root@example.com", "password": "a long bootstrap password"})
	session, _ := body["session"].(map[string]any)
	token, _ := session["token"].(string)
	if code != http.StatusOK || body["status"] != "ok" || token == "" {
		t.Fatalf("admin login: %d %v", code, body)
	}
	call := func(tok string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, base+"/audit?limit=10", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, b := call(token); code != http.StatusOK || !strings.Contains(b, "root@example.com") {
		t.Fatalf("audit as super admin: %d %.300s", code, b)
	}
	if code, _ := call(""); code != http.StatusUnauthorized {
		t.Fatalf("audit without a session: %d, want 401", code)
	}
	stopApp(t, app, cancel, runErr)
}

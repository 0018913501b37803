package cloudsvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPaymentsConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*PaymentsConfig)
		bad  string // the setting named in the error; "" = valid
	}{
		{"defaults", func(*PaymentsConfig) {}, ""},
		{"sandbox with settings", func(p *PaymentsConfig) {
			p.Provider, p.SandboxWebhookSecret, p.WebhookBaseURL, p.Currencies = "sandbox", "c2VjcmV0LXNlY3JldC1zZWNyZXQ=", "https://api.example.com", []string{"EUR", "USD"}
		}, ""},
		{"unknown provider", func(p *PaymentsConfig) { p.Provider = "paypal" }, "payments.provider"},
		{"short secret", func(p *PaymentsConfig) { p.SandboxWebhookSecret = "c2hvcnQ=" }, "payments.sandbox_webhook_secret"},
		{"secret not base64", func(p *PaymentsConfig) { p.SandboxWebhookSecret = "not base64!" }, "payments.sandbox_webhook_secret"},
		{"webhook URL without scheme", func(p *PaymentsConfig) { p.WebhookBaseURL = "api.example.com" }, "payments.webhook_base_url"},
		{"bad currency", func(p *PaymentsConfig) { p.Currencies = []string{"eur"} }, "payments.currencies"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(&c.Payments)
			err := c.Validate()
			if tc.bad == "" {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.bad) {
				t.Fatalf("err = %v, want one naming %s", err, tc.bad)
			}
		})
	}
}

func TestPaymentsSettingsFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"FLEETEDGE_PAYMENTS_PROVIDER":               "sandbox",
		"FLEETEDGE_PAYMENTS_SANDBOX_WEBHOOK_SECRET": "c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
		"FLEETEDGE_PAYMENTS_WEBHOOK_BASE_URL":       "https://api.example.com",
	}
	inv, err := LoadConfig(nil, func(k string) string { return env[k] }, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	p := inv.Config.Payments
	if p.Provider != "sandbox" || p.SandboxWebhookSecret.Reveal() != env["FLEETEDGE_PAYMENTS_SANDBOX_WEBHOOK_SECRET"] || p.WebhookBaseURL != "https://api.example.com" {
		t.Fatalf("payments config = %+v", p)
	}
	if strings.Contains(p.SandboxWebhookSecret.String(), "c2Vj") {
		t.Fatal("webhook secret printed unmasked")
	}
}

// TestAppPaymentsEndToEnd: in the running cloud a pending sandbox top-up is settled by the
// sandbox's signed webhook, delivered over HTTP to the cloud's own listener.
func TestAppPaymentsEndToEnd(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, RoleAPI)
	app, cancel, runErr := startApp(t, cfg)
	defer stopApp(t, app, cancel, runErr)
	waitReady(t, app, runErr)
	base := "http://" + app.HTTPAddr() + "/v1"
	code, body := postJSON(t, base+"/auth/signup", map[string]any{"first_name": "Ada", "last_name": "Lovelace",
		"email": "ada@example.com", "password": "correct horse battery"})
	token, _ := body["access_token"].(string)
	if code != 201 || token == "" {
		t.Fatalf("signup: %d %v", code, body)
	}
	do := func(method, path string, in any, key string) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if in != nil {
			b, _ := json.Marshal(in)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, m := do("POST", "/payment-methods", map[string]any{"token": "tok_pending"}, "")
	if code != 201 {
		t.Fatalf("add method: %d %v", code, m)
	}
	code, p := do("POST", "/top-ups", map[string]any{"amount_minor": 1200, "currency": "EUR"}, "e2e-1")
	if code != 202 || p["status"] != "pending" {
		t.Fatalf("top-up: %d %v", code, p)
	}
	id, _ := p["id"].(string)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, got := do("GET", "/payments/"+id, nil, "")
		if got["status"] == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment still %v: the webhook did not reach the cloud", got["status"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, b := do("GET", "/balance", nil, ""); code != 200 || b["balance_minor"] != float64(1200) {
		t.Fatalf("balance: %d %v", code, b)
	}
}

package cloudsvc

import (
	"errors"
	"strings"
	"testing"
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

package cloudsvc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/idempotency"
	"github.com/fleetedge/fleetedge/cloud/internal/payments"
	"github.com/fleetedge/fleetedge/cloud/internal/paymentsandbox"
)

// PaymentsConfig configures the payments area (cloud/internal/payments). Every field has a
// working zero value.
type PaymentsConfig struct {
	// Provider takes new payment methods and top-ups: "sandbox" (the default; test cards,
	// no real money, one process: its charges live in memory). A real provider is another
	// payments.Provider added to paymentProviders below and selected here by name.
	Provider string `json:"provider"`
	// SandboxWebhookSecret signs the sandbox's webhooks (standard base64, at least 16 bytes);
	// empty: generated at start (development only).
	SandboxWebhookSecret Key `json:"sandbox_webhook_secret"`
	// WebhookBaseURL is the rider API's base URL as the provider reaches it; the sandbox posts
	// to <base>/v1/payments/webhooks/sandbox (default http://<the HTTP listener>).
	WebhookBaseURL string `json:"webhook_base_url"`
	// Currencies riders may top up in; the first is the default balance currency (default EUR).
	Currencies []string `json:"currencies"`
}

var paymentCurrencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// validatePayments reports problems of the payments settings.
func (c Config) validatePayments(bad func(setting, format string, args ...any)) {
	p := c.Payments
	switch p.Provider {
	case "", paymentsandbox.Name:
	default:
		bad("payments.provider", "%q is not a known provider (sandbox)", p.Provider)
	}
	if p.SandboxWebhookSecret != "" {
		if k, err := base64.StdEncoding.DecodeString(p.SandboxWebhookSecret.Reveal()); err != nil || len(k) < 16 {
			bad("payments.sandbox_webhook_secret", "want standard base64 of at least 16 bytes")
		}
	}
	if p.WebhookBaseURL != "" {
		if u, err := url.Parse(p.WebhookBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("payments.webhook_base_url", "%q: want an http(s) URL", p.WebhookBaseURL)
		}
	}
	for _, cur := range p.Currencies {
		if !paymentCurrencyRE.MatchString(cur) {
			bad("payments.currencies", "%q is not an ISO 4217 code", cur)
		}
	}
}

// wirePayments registers the payments area: the provider, top-ups, webhooks, history,
// refunds and adjustments; the sandbox's deliveries stop with the process, pending payments
// older than two minutes are reconciled every minute, and expired Idempotency-Keys are purged
// hourly.
func (a *App) wirePayments(ar *Area) error {
	cfg := a.cfg.Payments
	secret, err := base64.StdEncoding.DecodeString(cfg.SandboxWebhookSecret.Reveal())
	if err != nil {
		return fmt.Errorf("payments: sandbox webhook secret: %w", err)
	}
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return fmt.Errorf("payments: generate sandbox webhook secret: %w", err)
		}
		ar.Log.Warn("payments: sandbox webhook secret generated for this process (set FLEETEDGE_PAYMENTS_SANDBOX_WEBHOOK_SECRET)")
	}
	base := strings.TrimSuffix(cfg.WebhookBaseURL, "/")
	if base == "" && a.http != nil {
		host, port, err := net.SplitHostPort(a.HTTPAddr())
		if err != nil {
			return fmt.Errorf("payments: webhook base URL from %q: %w", a.HTTPAddr(), err)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	webhookURL := "" // no listener (tests wiring areas alone): events are recorded, not sent
	if base != "" {
		webhookURL = base + "/v1/payments/webhooks/" + paymentsandbox.Name
	}
	sb, err := paymentsandbox.New(paymentsandbox.Config{Secrets: [][]byte{secret},
		WebhookURL: webhookURL, Log: ar.Log})
	if err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	ar.Go("payments-sandbox", func(ctx context.Context) {
		<-ctx.Done()
		sb.Close()
	})
	// The sandbox is the only built-in provider (validatePayments refuses other names). A real
	// one is built here from its own settings and put first when cfg.Provider names it; the
	// sandbox stays in the list so its earlier payments can still be refunded.
	providers := []payments.Provider{sb}
	idem, err := idempotency.New(ar.PG, idempotency.Options{Now: ar.Now})
	if err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	svc, err := payments.New(payments.Config{Pool: ar.PG, Keyring: ar.Keyring, Providers: providers, Idempotency: idem,
		Currencies: cfg.Currencies, Log: ar.Log, Now: ar.Now})
	if err != nil {
		return err
	}
	svc.RegisterRider(ar.Rider.Huma())
	svc.RegisterAdmin(ar.Admin)
	// Payments whose provider answer was lost (crash, timeout) and whose webhook never came
	// are asked again under their own idempotency key.
	ar.Go("payments-reconcile", func(ctx context.Context) {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := svc.ReconcilePending(ctx, 2*time.Minute); err != nil && ctx.Err() == nil {
					ar.Log.Warn("payments reconcile failed", "err", err)
				} else if n > 0 {
					ar.Log.Info("pending payments settled", "count", n)
				}
			}
		}
	})
	ar.Go("idempotency-purge", func(ctx context.Context) {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := idem.PurgeExpired(ctx); err != nil {
					ar.Log.Warn("idempotency purge failed", "err", err)
				} else if n > 0 {
					ar.Log.Debug("idempotency keys purged", "count", n)
				}
			}
		}
	})
	return nil
}

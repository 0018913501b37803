package riderapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/loginguard"
	"github.com/fleetedge/fleetedge/cloud/internal/problem"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
	"github.com/prometheus/client_golang/prometheus"
)

// Config wires the rider API.
type Config struct {
	Accounts *account.Service
	Tokens   TokenVerifier
	// OIDC may be nil: the OIDC routes then answer unknown_provider.
	OIDC  *rideroidc.Login
	Guard loginguard.Policy
	// TrustedProxies are the load balancers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Metrics, when set, receives fleetedge_rider_auth_total{op, outcome}.
	Metrics prometheus.Registerer
	Version string
	Now     func() time.Time
	Log     *slog.Logger
}

// API is the rider API.
type API struct {
	cfg  Config
	log  *slog.Logger
	mux  *http.ServeMux
	huma huma.API

	signupIP, loginIP, refreshIP, loginAccount *loginguard.Limiter
	lockout                                    *loginguard.Lockout
	outcomes                                   *prometheus.CounterVec
}

// maxBody bounds every request body of this API.
const maxBody = 16 << 10

// New builds the API and registers its operations.
func New(cfg Config) (*API, error) {
	if cfg.Accounts == nil || cfg.Tokens == nil {
		return nil, errors.New("riderapi: accounts and token verifier are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "1.0.0"
	}
	if cfg.Guard == (loginguard.Policy{}) {
		cfg.Guard = loginguard.DefaultPolicy()
	}
	if err := cfg.Guard.Validate(); err != nil {
		return nil, fmt.Errorf("riderapi: %w", err)
	}
	a := &API{cfg: cfg, log: cfg.Log, mux: http.NewServeMux()}
	a.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetedge_rider_auth_total",
		Help: "Rider authentication requests by operation and outcome (ok or the problem code).",
	}, []string{"op", "outcome"})
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(a.outcomes); err != nil {
			return nil, fmt.Errorf("riderapi: metrics: %w", err)
		}
	}
	var err error
	g := cfg.Guard
	if a.signupIP, err = loginguard.NewLimiter(g.SignupPerIP, g.MaxKeys, cfg.Now); err != nil {
		return nil, err
	}
	if a.loginIP, err = loginguard.NewLimiter(g.LoginPerIP, g.MaxKeys, cfg.Now); err != nil {
		return nil, err
	}
	if a.refreshIP, err = loginguard.NewLimiter(g.RefreshPerIP, g.MaxKeys, cfg.Now); err != nil {
		return nil, err
	}
	if a.loginAccount, err = loginguard.NewLimiter(g.LoginPerAccount, g.MaxKeys, cfg.Now); err != nil {
		return nil, err
	}
	if a.lockout, err = loginguard.NewLockout(g, cfg.Now); err != nil {
		return nil, err
	}

	hc := huma.DefaultConfig("fleetedge rider API", cfg.Version)
	hc.OpenAPIPath = "/v1/openapi"
	hc.DocsPath = "" // no HTML docs page (it loads scripts from a CDN); the OpenAPI document is enough
	hc.SchemasPath = "/v1/schemas"
	hc.CreateHooks = nil // no $schema links in bodies: mobile clients get plain JSON
	hc.Transformers = []huma.Transformer{problemTransformer}
	hc.Info.Description = "Rider accounts and login. Errors are RFC 9457 problem+json with a stable `code`."
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		BearerScheme: {Type: "http", Scheme: "bearer", BearerFormat: "JWT", Description: "Access token from /v1/auth/login, /signup, /refresh or an OIDC callback"},
	}
	// Document every error response as a Problem (with its code), not huma's ErrorModel.
	problemSchema := hc.Components.Schemas.Schema(reflect.TypeFor[Problem](), true, "Problem")
	hc.OnAddOperation = append(hc.OnAddOperation, func(_ *huma.OpenAPI, op *huma.Operation) {
		for status, resp := range op.Responses {
			if n, err := strconv.Atoi(status); (err == nil && n >= 400) || status == "default" {
				resp.Content = map[string]*huma.MediaType{problem.MediaType: {Schema: problemSchema}}
			}
		}
	})
	a.huma = humago.New(a.mux, hc)
	a.huma.UseMiddleware(a.clientMiddleware, BearerAuth(a.huma, cfg.Tokens))
	a.register()
	// Anything else under /v1/ gets a problem too, not net/http's plain-text 404.
	a.mux.HandleFunc("/v1/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", problem.MediaType)
		w.WriteHeader(http.StatusNotFound)
		if err := json.NewEncoder(w).Encode(NewProblem(http.StatusNotFound, CodeNotFound, "no such route")); err != nil {
			return // the client went away
		}
	})
	return a, nil
}

// Handler serves every route of the API (paths start with /v1/): mount it on "/v1/".
func (a *API) Handler() http.Handler { return a.mux }

// Huma is the huma API, for other rider APIs to register operations on (with BearerSecurity
// for authenticated ones); they then appear in /v1/openapi.json too.
func (a *API) Huma() huma.API { return a.huma }

// PurgeExpiredSessions deletes expired refresh-token sessions; the cloud calls it
// periodically (e.g. hourly) from its own goroutine.
func (a *API) PurgeExpiredSessions(ctx context.Context) (int64, error) {
	return a.cfg.Accounts.PurgeExpiredSessions(ctx)
}

func (a *API) account(ctx context.Context) account.Client {
	c := clientFrom(ctx)
	return account.Client{IP: c.ip, UserAgent: c.ua}
}

func (a *API) limit(l *loginguard.Limiter, key, what string) error {
	if ok, wait := l.Allow(key); !ok {
		a.log.Debug("rate limited", "limit", what) // counted in fleetedge_rider_auth_total; no log flood under attack
		return NewProblem(http.StatusTooManyRequests, CodeRateLimited, "too many attempts; retry later").WithRetryAfter(wait)
	}
	return nil
}

// observed counts the outcome of an authentication operation.
func observed[I, O any](a *API, op string, h func(context.Context, *I) (*O, error)) func(context.Context, *I) (*O, error) {
	return func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		outcome := "ok"
		var p *Problem
		switch {
		case errors.As(err, &p):
			outcome = p.Code
		case err != nil:
			outcome = "error"
		}
		a.outcomes.WithLabelValues(op, outcome).Inc()
		return out, err
	}
}

// ipKey is the rate-limit key of the client: its IPv4 address, or its IPv6 /64 (one
// subscriber usually holds a whole /64 and could otherwise rotate addresses past the limits).
func ipKey(ctx context.Context) string {
	ip := clientFrom(ctx).ip
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}

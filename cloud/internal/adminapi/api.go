package adminapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/clientip"
	"github.com/fleetedge/fleetedge/cloud/internal/loginguard"
	"github.com/fleetedge/fleetedge/cloud/internal/problem"
)

// Prefix is where the API is mounted.
const Prefix = "/admin/v1"

// SessionScheme is the OpenAPI security scheme of admin session tokens.
const SessionScheme = "adminSession"

// Config wires the admin API.
type Config struct {
	Admins *admin.Service
	// Audit reads the audit log (a *pgxpool.Pool as fleetedge_app).
	Audit audit.Querier
	// LoginPerIP limits login attempts (both steps) per client IP (default 10/min, burst 10).
	LoginPerIP loginguard.Rate
	// TrustedProxies are the load balancers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	Version        string
	Now            func() time.Time
	Log            *slog.Logger
}

// Access is what an operation requires: nothing (Public), a session (Authenticated), or a
// session whose admin holds Permission.
type Access struct {
	Public     bool
	Permission admin.Permission
}

// Public is the access of the login operations.
func Public() Access { return Access{Public: true} }

// Authenticated is the access of operations any logged-in admin may call (their own account).
func Authenticated() Access { return Access{} }

// Requires is the access of operations that need permission p.
func Requires(p admin.Permission) Access { return Access{Permission: p} }

func (x Access) String() string {
	switch {
	case x.Public:
		return "public"
	case x.Permission == "":
		return "authenticated"
	}
	return string(x.Permission)
}

// Route is one registered operation and the access it declared.
type Route struct {
	OperationID string
	Method      string
	Path        string
	Access      Access
}

// API is the admin API.
type API struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	huma    huma.API
	loginIP *loginguard.Limiter
	routes  []Route
	// codes are the problem codes by status: adminapi's own and those areas declared.
	codes map[int][]string
}

const (
	maxBody = 16 << 10
	// accessKey is the operation metadata key holding the declared Access.
	accessKey = "fleetedge.access"
	// PermissionExtension names the OpenAPI extension that shows an operation's access.
	PermissionExtension = "x-fleetedge-permission"
)

var problemType = reflect.TypeFor[Problem]()

// New builds the API and registers its operations.
func New(cfg Config) (*API, error) {
	if cfg.Admins == nil || cfg.Audit == nil {
		return nil, errors.New("adminapi: admins service and audit querier are required")
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
	if cfg.LoginPerIP == (loginguard.Rate{}) {
		cfg.LoginPerIP = loginguard.Rate{PerMinute: 10, Burst: 10}
	}
	lim, err := loginguard.NewLimiter(cfg.LoginPerIP, loginguard.DefaultMaxKeys, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("adminapi: %w", err)
	}
	a := &API{cfg: cfg, log: cfg.Log, mux: http.NewServeMux(), loginIP: lim, codes: baseCodes()}
	hc := huma.DefaultConfig("fleetedge admin API", cfg.Version)
	hc.OpenAPIPath = Prefix + "/openapi"
	hc.DocsPath = Prefix + "/docs"
	hc.SchemasPath = Prefix + "/schemas"
	hc.CreateHooks = nil
	hc.Transformers = []huma.Transformer{problemTransformer}
	hc.Info.Description = "Operators' API: admin accounts, roles and permissions, the audit log. " +
		"Every operation names the permission it needs in `" + PermissionExtension + "` (`public`, `authenticated` or a permission code). " +
		"Errors are RFC 9457 problem+json with a stable `code`."
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		SessionScheme: {Type: "http", Scheme: "bearer", BearerFormat: "opaque",
			Description: "Admin session token (fea_…) from POST /admin/v1/auth/login or /auth/login/totp"},
	}
	a.huma = humago.New(a.mux, hc)
	a.huma.UseMiddleware(a.clientMiddleware, a.authMiddleware)
	a.syncCodeEnum()
	a.register()
	return a, nil
}

// Handler serves every route of the API (paths start with /admin/v1/): mount it on "/admin/v1/".
func (a *API) Handler() http.Handler { return a.mux }

// Huma is the huma API; other admin areas register on it with Register.
func (a *API) Huma() huma.API { return a.huma }

// Routes lists every operation registered with Register and its declared access.
func (a *API) Routes() []Route { return slices.Clone(a.routes) }

// Register adds an operation that declares its access: Public, Authenticated or Requires(p).
// The declaration is enforced by the API's middleware before the input is read, documented in
// the OpenAPI document (security, PermissionExtension, 401/403 responses) and listed by Routes.
// errs are the problem statuses the handler can return besides 401/403/422/500.
func Register[I, O any](a *API, op huma.Operation, access Access, errs []int, h func(context.Context, *I) (*O, error)) {
	if !strings.HasPrefix(op.Path, Prefix+"/") {
		panic("adminapi: operation path outside " + Prefix) // a programming error at start-up
	}
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[accessKey] = access
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions[PermissionExtension] = access.String()
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = maxBody
	}
	statuses := slices.Clone(errs)
	if !access.Public {
		op.Security = []map[string][]string{{SessionScheme: {}}}
		statuses = append(statuses, http.StatusUnauthorized)
		if access.Permission != "" {
			statuses = append(statuses, http.StatusForbidden)
			op.Description = strings.TrimSpace(op.Description + "\n\nRequires permission `" + string(access.Permission) + "`.")
		} else {
			op.Description = strings.TrimSpace(op.Description + "\n\nAny logged-in admin.")
		}
	}
	if reflect.TypeFor[I]().NumField() > 0 {
		statuses = append(statuses, http.StatusUnprocessableEntity)
	}
	statuses = append(statuses, http.StatusInternalServerError)
	slices.Sort(statuses)
	a.errorResponses(&op, slices.Compact(statuses))
	huma.Register(a.huma, op, h)
	a.routes = append(a.routes, Route{OperationID: op.OperationID, Method: op.Method, Path: op.Path, Access: access})
}

// Actor is the audit actor of a request that passed the auth middleware: the admin with the
// request's client IP (proxy-aware), user agent and request id. ok is false on public routes.
func Actor(ctx context.Context) (actor audit.Actor, ok bool) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return audit.Actor{}, false
	}
	c := clientFrom(ctx)
	return audit.Actor{AdminID: p.AdminID, Email: p.Email, IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID}, true
}

type principalKey struct{}

// PrincipalFrom returns the authenticated admin of a request that passed the auth middleware.
func PrincipalFrom(ctx context.Context) (admin.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(admin.Principal)
	return p, ok
}

// authMiddleware enforces each operation's declared Access. An operation registered without
// one (not through Register) is refused: access control fails closed.
func (a *API) authMiddleware(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	var access Access
	var declared bool
	if op != nil {
		access, declared = op.Metadata[accessKey].(Access)
	}
	if !declared {
		a.log.Error("operation declares no access", "path", ctx.URL().Path)
		a.write(ctx, NewProblem(http.StatusInternalServerError, CodeInternal, "operation declares no access"))
		return
	}
	if access.Public {
		next(ctx)
		return
	}
	scheme, tok, ok := strings.Cut(ctx.Header("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="fleetedge-admin"`)
		a.write(ctx, NewProblem(http.StatusUnauthorized, CodeUnauthorized, "missing bearer token"))
		return
	}
	p, err := a.cfg.Admins.Authenticate(ctx.Context(), strings.TrimSpace(tok))
	if err != nil {
		if errors.Is(err, admin.ErrUnauthenticated) {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="fleetedge-admin", error="invalid_token"`)
		}
		a.write(ctx, a.problemFor("authenticate", err).(*Problem))
		return
	}
	if access.Permission != "" && !p.Permissions.Has(access.Permission) {
		pr := NewProblem(http.StatusForbidden, CodeForbidden, "permission required")
		pr.Missing = []string{string(access.Permission)}
		a.write(ctx, pr)
		return
	}
	next(huma.WithValue(ctx, principalKey{}, p))
}

func (a *API) write(ctx huma.Context, p *Problem) {
	for k, vs := range p.GetHeaders() {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", problem.MediaType)
	ctx.SetStatus(p.Status)
	if err := a.huma.Marshal(ctx.BodyWriter(), "application/json", p); err != nil {
		a.log.Debug("write problem", "err", err) // the client went away
	}
}

type clientKey struct{}

// clientMiddleware records the client IP, user agent and request id for the handlers.
func (a *API) clientMiddleware(ctx huma.Context, next func(huma.Context)) {
	rid := ctx.Header("X-Request-Id")
	if len(rid) > audit.MaxRequestID || strings.ContainsFunc(rid, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		rid = ""
	}
	c := admin.Client{IP: a.clientIP(ctx.RemoteAddr(), ctx.Header("X-Forwarded-For")), UserAgent: ctx.Header("User-Agent"), RequestID: rid}
	next(huma.WithValue(ctx, clientKey{}, c))
}

func clientFrom(ctx context.Context) admin.Client {
	c, _ := ctx.Value(clientKey{}).(admin.Client)
	return c
}

// clientIP is the peer address, or, when the peer is a trusted proxy, the right-most
// X-Forwarded-For entry that is not a trusted proxy.
func (a *API) clientIP(remoteAddr, xff string) netip.Addr {
	return clientip.Resolve(remoteAddr, xff, a.cfg.TrustedProxies)
}

func (a *API) limitLogin(ctx context.Context) error {
	if ok, wait := a.loginIP.Allow(clientFrom(ctx).IP.String()); !ok {
		a.log.Warn("admin login rate limited")
		return NewProblem(http.StatusTooManyRequests, CodeRateLimited, "too many attempts; retry later").WithRetryAfter(wait)
	}
	return nil
}

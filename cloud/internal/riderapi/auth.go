package riderapi

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
	"github.com/fleetedge/fleetedge/cloud/internal/clientip"
	"github.com/fleetedge/fleetedge/cloud/internal/problem"
)

// BearerScheme is the OpenAPI security scheme name of rider access tokens.
const BearerScheme = "bearer"

// BearerSecurity is the Security requirement of operations that need a rider's access token.
var BearerSecurity = []map[string][]string{{BearerScheme: {}}}

// TokenVerifier verifies access tokens (authtoken.Issuer implements it).
type TokenVerifier interface {
	Verify(token string) (authtoken.Claims, error)
}

type riderKey struct{}

// RiderID returns the authenticated rider of a request that passed BearerAuth.
func RiderID(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(riderKey{}).(string)
	return id, ok && id != ""
}

// BearerAuth returns huma middleware that, for operations whose Security names BearerScheme,
// requires "Authorization: Bearer <access token>", verifies it and stores the rider id for
// RiderID. Other operations pass through. Failures are 401 problems with a
// WWW-Authenticate challenge.
func BearerAuth(api huma.API, v TokenVerifier) func(ctx huma.Context, next func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		if !needsBearer(ctx.Operation()) {
			next(ctx)
			return
		}
		h := ctx.Header("Authorization")
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			writeUnauthorized(api, ctx, "missing bearer token", "")
			return
		}
		claims, err := v.Verify(strings.TrimSpace(tok))
		if err != nil {
			detail := "invalid access token"
			if errors.Is(err, authtoken.ErrExpired) {
				detail = "access token expired"
			}
			writeUnauthorized(api, ctx, detail, `, error="invalid_token"`)
			return
		}
		next(huma.WithValue(ctx, riderKey{}, claims.Subject))
	}
}

func needsBearer(op *huma.Operation) bool {
	if op == nil {
		return false
	}
	for _, req := range op.Security {
		if _, ok := req[BearerScheme]; ok {
			return true
		}
	}
	return false
}

func writeUnauthorized(api huma.API, ctx huma.Context, detail, errParam string) {
	p := NewProblem(http.StatusUnauthorized, CodeUnauthorized, detail)
	ctx.SetHeader("WWW-Authenticate", `Bearer realm="fleetedge"`+errParam)
	ctx.SetHeader("Content-Type", problem.MediaType)
	ctx.SetStatus(http.StatusUnauthorized)
	if err := api.Marshal(ctx.BodyWriter(), "application/json", p); err != nil {
		return // the client went away
	}
}

type clientKey struct{}

type clientInfo struct {
	ip netip.Addr
	ua string
}

// clientMiddleware records the client IP and user agent for the handlers.
func (a *API) clientMiddleware(ctx huma.Context, next func(huma.Context)) {
	next(huma.WithValue(ctx, clientKey{}, clientInfo{ip: a.clientIP(ctx.RemoteAddr(), ctx.Header("X-Forwarded-For")), ua: ctx.Header("User-Agent")}))
}

func clientFrom(ctx context.Context) clientInfo {
	c, _ := ctx.Value(clientKey{}).(clientInfo)
	return c
}

// clientIP is the peer address, or, when the peer is a trusted proxy, the right-most
// X-Forwarded-For entry that is not a trusted proxy.
func (a *API) clientIP(remoteAddr, xff string) netip.Addr {
	return clientip.Resolve(remoteAddr, xff, a.cfg.TrustedProxies)
}

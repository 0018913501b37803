package riderapi

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
)

// The form_post callback (POST /v1/auth/oidc/{provider}/callback): providers configured with
// response_mode form_post (Sign in with Apple) answer with a page that POSTs code, state (and,
// on a rider's first login with Apple, a "user" JSON with the name) as
// application/x-www-form-urlencoded. The checks are those of the GET callback (state cookie,
// PKCE, nonce, issuer, audience, verified email: rideroidc.Finish); a provider answers one
// way only, so a POST to a query provider and a GET to a form_post one are 405 with Allow.

// maxFormPostBody bounds the form: code, state and Apple's user JSON fit many times over.
const maxFormPostBody = 16 << 10

// formPostMediaType is the only request body the form_post callback takes.
const formPostMediaType = "application/x-www-form-urlencoded"

type oidcFormCallbackInput struct {
	Provider    string `path:"provider" maxLength:"64"`
	ContentType string `header:"Content-Type"`
	Cookie      string `cookie:"fleetedge_oidc"`
	RawBody     []byte `contentType:"application/x-www-form-urlencoded"`
}

// formField is one field the form_post callback reads, with its size bound.
type formField struct {
	name string
	max  int
}

var formFields = []formField{{"code", 2048}, {"state", 512}, {"error", 256}, {"user", rideroidc.MaxUserJSON}}

func (a *API) registerOIDCFormPost() {
	path := "/v1/auth/oidc/{provider}/callback"
	huma.Register(a.huma, huma.Operation{
		OperationID: "oidc-callback-form-post", Method: http.MethodPost, Path: path, Tags: []string{"auth"},
		Summary: "Identity provider form_post target (Sign in with Apple): finishes the login and returns tokens",
		Description: "For providers configured with response_mode form_post: the provider's page POSTs code and state " +
			"(and Apple's first-login `user` JSON) as a form. Same checks as the GET callback; a query-mode provider answers 405.",
		MaxBodyBytes: maxFormPostBody,
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
			http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
			http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusBadGateway},
	}, observed(a, "oidc_callback", a.oidcFormCallback))
	// Document the form's fields instead of huma's opaque binary body.
	if pi := a.huma.OpenAPI().Paths[path]; pi != nil && pi.Post != nil && pi.Post.RequestBody != nil {
		props := map[string]*huma.Schema{}
		for _, f := range formFields {
			props[f.name] = &huma.Schema{Type: "string", MaxLength: &f.max}
		}
		props["user"].Description = "Sign in with Apple, first login only: JSON with the rider's name (the email in it is ignored)"
		pi.Post.RequestBody.Content[formPostMediaType] = &huma.MediaType{Schema: &huma.Schema{Type: "object", Properties: props}}
	}
}

func (a *API) oidcFormCallback(ctx context.Context, in *oidcFormCallbackInput) (*oidcCallbackOutput, error) {
	if err := a.limit(a.loginIP, ipKey(ctx), "login_ip"); err != nil {
		return nil, err
	}
	if a.cfg.OIDC == nil {
		return nil, a.problemFor(ctx, "oidc_callback", rideroidc.ErrUnknownProvider)
	}
	// The mode first: a query provider refuses every POST, whatever its body.
	mode, err := a.cfg.OIDC.ResponseMode(in.Provider)
	if err != nil {
		return nil, a.problemFor(ctx, "oidc_callback", err)
	}
	if mode != rideroidc.ResponseModeFormPost {
		return nil, responseModeProblem(true)
	}
	if mt, _, err := mime.ParseMediaType(in.ContentType); err != nil || mt != formPostMediaType {
		return nil, NewProblem(http.StatusUnsupportedMediaType, CodeInvalidRequest, "the callback takes an "+formPostMediaType+" form")
	}
	form, err := url.ParseQuery(string(in.RawBody))
	if err != nil {
		return nil, NewProblem(http.StatusBadRequest, CodeInvalidRequest, "the form does not parse")
	}
	var bad []*huma.ErrorDetail
	for _, f := range formFields {
		switch vs := form[f.name]; {
		case len(vs) > 1:
			bad = append(bad, &huma.ErrorDetail{Location: "body." + f.name, Message: "given more than once"})
		case len(vs) == 1 && len(vs[0]) > f.max:
			bad = append(bad, &huma.ErrorDetail{Location: "body." + f.name, Message: "too long"})
		}
	}
	if len(bad) > 0 {
		p := NewProblem(http.StatusUnprocessableEntity, CodeInvalidRequest, "validation failed")
		p.Errors = bad
		return nil, p
	}
	return a.finishOIDC(ctx, in.Provider, rideroidc.Callback{Cookie: in.Cookie, State: form.Get("state"), Code: form.Get("code"),
		Error: form.Get("error"), User: form.Get("user"), FormPost: true})
}

// finishOIDC completes a login from either callback: the identity from the provider, then
// the rider's account (created, found, or linked by verified email) and tokens.
func (a *API) finishOIDC(ctx context.Context, provider string, cb rideroidc.Callback) (*oidcCallbackOutput, error) {
	id, err := a.cfg.OIDC.Finish(ctx, provider, cb)
	if errors.Is(err, rideroidc.ErrResponseMode) {
		return nil, responseModeProblem(cb.FormPost)
	}
	if err != nil {
		return nil, a.problemFor(ctx, "oidc_callback", err)
	}
	r, t, created, err := a.cfg.Accounts.LoginWithIdentity(ctx, id, a.account(ctx))
	if err != nil {
		return nil, a.problemFor(ctx, "oidc_callback", err)
	}
	out := &oidcCallbackOutput{SetCookie: *a.cfg.OIDC.ClearCookieFor(provider), CacheControl: "no-store"}
	out.Body.TokenBody = a.tokenBody(t, &r)
	out.Body.Created = created
	return out, nil
}

// responseModeProblem answers a callback that came by the method the provider does not use.
func responseModeProblem(gotPost bool) *Problem {
	allow, detail := http.MethodPost, "this identity provider answers with a form POST (response_mode form_post)"
	if gotPost {
		allow, detail = http.MethodGet, "this identity provider answers with a redirect (GET), not a form POST"
	}
	p := NewProblem(http.StatusMethodNotAllowed, CodeOIDCResponseMode, detail)
	p.GetHeaders().Set("Allow", allow)
	return p
}

package riderapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
)

// RiderBody is a rider as the API shows it.
type RiderBody struct {
	ID          string    `json:"id" format:"uuid"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	Email       string    `json:"email"`
	Phone       string    `json:"phone,omitempty" doc:"E.164"`
	Status      string    `json:"status" enum:"active,suspended"`
	HasPassword bool      `json:"has_password" doc:"false for riders who only sign in through an identity provider"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func riderBody(r account.Rider) RiderBody {
	return RiderBody{ID: r.ID, FirstName: r.FirstName, LastName: r.LastName, Email: string(r.Email), Phone: r.Phone,
		Status: string(r.Status), HasPassword: r.HasPassword, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// TokenBody is an OAuth2-style token response.
type TokenBody struct {
	AccessToken      string     `json:"access_token"`
	TokenType        string     `json:"token_type" enum:"Bearer"`
	ExpiresIn        int        `json:"expires_in" doc:"access token lifetime, seconds"`
	RefreshToken     string     `json:"refresh_token"`
	RefreshExpiresIn int        `json:"refresh_expires_in" doc:"refresh token lifetime, seconds"`
	Rider            *RiderBody `json:"rider,omitempty"`
}

func (a *API) tokenBody(t account.Tokens, r *account.Rider) TokenBody {
	now := a.cfg.Now()
	b := TokenBody{AccessToken: t.Access, TokenType: "Bearer", ExpiresIn: int(t.AccessExpiresAt.Sub(now).Seconds()),
		RefreshToken: t.Refresh, RefreshExpiresIn: int(t.RefreshExpiresAt.Sub(now).Seconds())}
	if r != nil {
		rb := riderBody(*r)
		b.Rider = &rb
	}
	return b
}

type signupInput struct {
	Body struct {
		FirstName string `json:"first_name" minLength:"1" maxLength:"100"`
		LastName  string `json:"last_name" minLength:"1" maxLength:"100"`
		Email     string `json:"email" minLength:"3" maxLength:"320"`
		Password  string `json:"password" minLength:"1" maxLength:"512" doc:"10 to 128 characters; not a common password, a sequence or one repeated character"`
		Phone     string `json:"phone,omitempty" maxLength:"32" doc:"international format, e.g. +34600111222"`
	}
}

type tokenOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         TokenBody
}

type loginInput struct {
	Body struct {
		Email    string `json:"email" minLength:"1" maxLength:"320"`
		Password string `json:"password" minLength:"1" maxLength:"512"`
	}
}

type refreshInput struct {
	Body struct {
		RefreshToken string `json:"refresh_token" minLength:"1" maxLength:"128"`
	}
}

type oidcStartInput struct {
	Provider string `path:"provider" maxLength:"64"`
}

type oidcStartOutput struct {
	Status       int
	Location     string      `header:"Location"`
	SetCookie    http.Cookie `header:"Set-Cookie"`
	CacheControl string      `header:"Cache-Control"`
}

type oidcCallbackInput struct {
	Provider string `path:"provider" maxLength:"64"`
	Code     string `query:"code" maxLength:"2048"`
	State    string `query:"state" maxLength:"512"`
	Error    string `query:"error" maxLength:"256"`
	Cookie   string `cookie:"fleetedge_oidc"`
}

type oidcCallbackOutput struct {
	SetCookie    http.Cookie `header:"Set-Cookie"`
	CacheControl string      `header:"Cache-Control"`
	Body         struct {
		TokenBody
		Created bool `json:"created" doc:"true when this login created the account"`
	}
}

type meOutput struct {
	Body RiderBody
}

type mePatchInput struct {
	Body struct {
		FirstName *string `json:"first_name,omitempty" minLength:"1" maxLength:"100"`
		LastName  *string `json:"last_name,omitempty" minLength:"1" maxLength:"100"`
		Phone     *string `json:"phone,omitempty" maxLength:"32" doc:"empty string removes the phone"`
	}
}

type passwordInput struct {
	Body struct {
		CurrentPassword string `json:"current_password" minLength:"1" maxLength:"512"`
		NewPassword     string `json:"new_password" minLength:"1" maxLength:"512"`
	}
}

func (a *API) register() {
	errs := []int{http.StatusUnprocessableEntity, http.StatusTooManyRequests}
	huma.Register(a.huma, huma.Operation{
		OperationID: "signup", Method: http.MethodPost, Path: "/v1/auth/signup", Tags: []string{"auth"},
		Summary: "Create a rider account and log in", DefaultStatus: http.StatusCreated, MaxBodyBytes: maxBody,
		Errors: append(errs, http.StatusConflict),
	}, observed(a, "signup", a.signup))
	huma.Register(a.huma, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/v1/auth/login", Tags: []string{"auth"},
		Summary: "Log in with email and password", MaxBodyBytes: maxBody,
		Errors: append(errs, http.StatusUnauthorized, http.StatusForbidden),
	}, observed(a, "login", a.login))
	huma.Register(a.huma, huma.Operation{
		OperationID: "refresh", Method: http.MethodPost, Path: "/v1/auth/refresh", Tags: []string{"auth"},
		Summary: "Exchange a refresh token for new tokens (the refresh token rotates)", MaxBodyBytes: maxBody,
		Errors: append(errs, http.StatusUnauthorized),
	}, observed(a, "refresh", a.refresh))
	huma.Register(a.huma, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/v1/auth/logout", Tags: []string{"auth"},
		Summary: "End the login the refresh token belongs to", DefaultStatus: http.StatusNoContent, MaxBodyBytes: maxBody,
		Errors: errs,
	}, observed(a, "logout", a.logout))
	huma.Register(a.huma, huma.Operation{
		OperationID: "oidc-start", Method: http.MethodGet, Path: "/v1/auth/oidc/{provider}/start", Tags: []string{"auth"},
		Summary: "Start a login with an identity provider (redirects)", DefaultStatus: http.StatusFound,
		Errors: []int{http.StatusNotFound, http.StatusTooManyRequests, http.StatusBadGateway},
	}, observed(a, "oidc_start", a.oidcStart))
	huma.Register(a.huma, huma.Operation{
		OperationID: "oidc-callback", Method: http.MethodGet, Path: "/v1/auth/oidc/{provider}/callback", Tags: []string{"auth"},
		Summary: "Identity provider redirect target: finishes the login and returns tokens",
		Errors:  []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusTooManyRequests, http.StatusBadGateway},
	}, observed(a, "oidc_callback", a.oidcCallback))
	a.registerOIDCFormPost()
	huma.Register(a.huma, huma.Operation{
		OperationID: "me-get", Method: http.MethodGet, Path: "/v1/me", Tags: []string{"me"},
		Summary: "The logged-in rider's profile", Security: BearerSecurity,
		Errors: []int{http.StatusUnauthorized},
	}, a.meGet)
	huma.Register(a.huma, huma.Operation{
		OperationID: "me-patch", Method: http.MethodPatch, Path: "/v1/me", Tags: []string{"me"},
		Summary: "Update names or phone", Security: BearerSecurity, MaxBodyBytes: maxBody,
		Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, a.mePatch)
	huma.Register(a.huma, huma.Operation{
		OperationID: "me-password", Method: http.MethodPost, Path: "/v1/me/password", Tags: []string{"me"},
		Summary:  "Change the password: every other session ends, new tokens are returned",
		Security: BearerSecurity, MaxBodyBytes: maxBody,
		Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity, http.StatusTooManyRequests},
	}, observed(a, "password", a.mePassword))
	huma.Register(a.huma, huma.Operation{
		OperationID: "me-delete", Method: http.MethodDelete, Path: "/v1/me", Tags: []string{"me"},
		Summary:       "Delete the account: personal data is erased, ride and payment records stay (anonymised)",
		Security:      BearerSecurity,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusUnauthorized},
	}, a.meDelete)
}

func (a *API) signup(ctx context.Context, in *signupInput) (*tokenOutput, error) {
	if err := a.limit(a.signupIP, ipKey(ctx), "signup_ip"); err != nil {
		return nil, err
	}
	b := in.Body
	r, t, err := a.cfg.Accounts.SignUp(ctx, account.SignUp{FirstName: b.FirstName, LastName: b.LastName, Email: b.Email,
		Password: b.Password, Phone: b.Phone}, a.account(ctx))
	if err != nil {
		return nil, a.problemFor(ctx, "signup", err)
	}
	return &tokenOutput{CacheControl: "no-store", Body: a.tokenBody(t, &r)}, nil
}

func (a *API) login(ctx context.Context, in *loginInput) (*tokenOutput, error) {
	if err := a.limit(a.loginIP, ipKey(ctx), "login_ip"); err != nil {
		return nil, err
	}
	email, err := account.ParseEmail(in.Body.Email)
	if err != nil {
		// Not an address any account can have: the same answer as a wrong password.
		return nil, a.problemFor(ctx, "login", account.ErrInvalidCredentials)
	}
	key := string(email)
	// Lockout first: it consumes nothing, and a locked account should say "locked".
	if locked, wait := a.lockout.Check(key); locked {
		a.log.Debug("login refused: account locked", "ip", ipKey(ctx))
		return nil, NewProblem(http.StatusTooManyRequests, CodeLocked, "too many failed logins; retry later").WithRetryAfter(wait)
	}
	if err := a.limit(a.loginAccount, key, "login_account"); err != nil {
		return nil, err
	}
	r, t, err := a.cfg.Accounts.LogIn(ctx, email, in.Body.Password, a.account(ctx))
	if errors.Is(err, account.ErrInvalidCredentials) {
		lockedFor := a.lockout.Fail(key)
		a.log.Info("login failed", "ip", ipKey(ctx), "locked_for", lockedFor)
	}
	if err != nil {
		return nil, a.problemFor(ctx, "login", err)
	}
	a.lockout.Succeed(key)
	return &tokenOutput{CacheControl: "no-store", Body: a.tokenBody(t, &r)}, nil
}

func (a *API) refresh(ctx context.Context, in *refreshInput) (*tokenOutput, error) {
	if err := a.limit(a.refreshIP, ipKey(ctx), "refresh_ip"); err != nil {
		return nil, err
	}
	t, err := a.cfg.Accounts.Refresh(ctx, in.Body.RefreshToken, a.account(ctx))
	if err != nil {
		return nil, a.problemFor(ctx, "refresh", err)
	}
	return &tokenOutput{CacheControl: "no-store", Body: a.tokenBody(t, nil)}, nil
}

func (a *API) logout(ctx context.Context, in *refreshInput) (*struct{}, error) {
	if err := a.limit(a.refreshIP, ipKey(ctx), "refresh_ip"); err != nil {
		return nil, err
	}
	err := a.cfg.Accounts.LogOut(ctx, in.Body.RefreshToken)
	if err != nil && !errors.Is(err, account.ErrRefreshInvalid) {
		return nil, a.problemFor(ctx, "logout", err)
	}
	// Logging out of an unknown or already ended login is a success: there is nothing left.
	return nil, nil
}

func (a *API) oidcStart(ctx context.Context, in *oidcStartInput) (*oidcStartOutput, error) {
	// Starting costs no database or provider work (discovery is cached): the generous bucket.
	if err := a.limit(a.refreshIP, ipKey(ctx), "oidc_start_ip"); err != nil {
		return nil, err
	}
	if a.cfg.OIDC == nil {
		return nil, a.problemFor(ctx, "oidc_start", rideroidc.ErrUnknownProvider)
	}
	u, c, err := a.cfg.OIDC.Start(ctx, in.Provider)
	if err != nil {
		return nil, a.problemFor(ctx, "oidc_start", err)
	}
	return &oidcStartOutput{Status: http.StatusFound, Location: u, SetCookie: *c, CacheControl: "no-store"}, nil
}

func (a *API) oidcCallback(ctx context.Context, in *oidcCallbackInput) (*oidcCallbackOutput, error) {
	if err := a.limit(a.loginIP, ipKey(ctx), "login_ip"); err != nil {
		return nil, err
	}
	if a.cfg.OIDC == nil {
		return nil, a.problemFor(ctx, "oidc_callback", rideroidc.ErrUnknownProvider)
	}
	return a.finishOIDC(ctx, in.Provider, rideroidc.Callback{Cookie: in.Cookie, State: in.State, Code: in.Code, Error: in.Error})
}

func (a *API) meGet(ctx context.Context, _ *struct{}) (*meOutput, error) {
	id, _ := RiderID(ctx)
	r, err := a.cfg.Accounts.Profile(ctx, id)
	if err != nil {
		return nil, a.problemFor(ctx, "me_get", err)
	}
	return &meOutput{Body: riderBody(r)}, nil
}

func (a *API) mePatch(ctx context.Context, in *mePatchInput) (*meOutput, error) {
	id, _ := RiderID(ctx)
	r, err := a.cfg.Accounts.UpdateProfile(ctx, id, account.ProfileUpdate{FirstName: in.Body.FirstName,
		LastName: in.Body.LastName, Phone: in.Body.Phone})
	if err != nil {
		return nil, a.problemFor(ctx, "me_patch", err)
	}
	return &meOutput{Body: riderBody(r)}, nil
}

func (a *API) mePassword(ctx context.Context, in *passwordInput) (*tokenOutput, error) {
	id, _ := RiderID(ctx)
	if err := a.limit(a.loginIP, ipKey(ctx), "login_ip"); err != nil {
		return nil, err
	}
	// A stolen access token must not become a password oracle: the rider's lockout applies.
	key := "rider:" + id
	if locked, wait := a.lockout.Check(key); locked {
		return nil, NewProblem(http.StatusTooManyRequests, CodeLocked, "too many failed attempts; retry later").WithRetryAfter(wait)
	}
	t, err := a.cfg.Accounts.ChangePassword(ctx, id, in.Body.CurrentPassword, in.Body.NewPassword, a.account(ctx))
	if errors.Is(err, account.ErrInvalidCredentials) {
		a.lockout.Fail(key)
	}
	if err != nil {
		return nil, a.problemFor(ctx, "me_password", err)
	}
	a.lockout.Succeed(key)
	return &tokenOutput{CacheControl: "no-store", Body: a.tokenBody(t, nil)}, nil
}

func (a *API) meDelete(ctx context.Context, _ *struct{}) (*struct{}, error) {
	id, _ := RiderID(ctx)
	if err := a.cfg.Accounts.Delete(ctx, id); err != nil {
		return nil, a.problemFor(ctx, "me_delete", err)
	}
	return nil, nil
}

package riderapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/problem"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
)

// Problem codes (stable: clients switch on them).
const (
	CodeEmailTaken          = "email_taken"
	CodeInvalidCredentials  = "invalid_credentials"
	CodeLocked              = "locked"
	CodeRateLimited         = "rate_limited"
	CodeWeakPassword        = "weak_password"
	CodeInvalidRequest      = "invalid_request"
	CodeTokenInvalid        = "token_invalid"
	CodeTokenReused         = "token_reused"
	CodeUnauthorized        = "unauthorized"
	CodeAccountSuspended    = "account_suspended"
	CodeOIDCStateInvalid    = "oidc_state_invalid"
	CodeOIDCFailed          = "oidc_failed"
	CodeOIDCDenied          = "oidc_denied"
	CodeOIDCEmailUnverified = "oidc_email_unverified"
	CodeOIDCResponseMode    = "oidc_response_mode"
	CodeIdentityConflict    = "identity_conflict"
	CodeUnknownProvider     = "unknown_provider"
	CodeProviderUnavailable = "provider_unavailable"
	CodeNotFound            = "not_found"
	CodeInternal            = "internal"
)

// ProblemTypePrefix prefixes every problem type URI.
const ProblemTypePrefix = "urn:fleetedge:problem:"

// Problem is an RFC 9457 problem detail with a stable code.
type Problem struct {
	Type     string              `json:"type" doc:"urn:fleetedge:problem:<code>"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail,omitempty"`
	Code     string              `json:"code" doc:"Stable machine-readable error code"`
	Instance string              `json:"instance,omitempty"`
	Errors   []*huma.ErrorDetail `json:"errors,omitempty"`

	problem.Headers // Retry-After; GetHeaders implements huma.HeadersError
}

// NewProblem returns a problem with status, code and detail.
func NewProblem(status int, code, detail string) *Problem {
	return &Problem{Type: ProblemTypePrefix + code, Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType implements huma.ContentTypeFilter.
func (p *Problem) ContentType(ct string) string { return problem.ContentType(ct) }

// WithRetryAfter sets Retry-After to d rounded up to whole seconds (at least 1).
func (p *Problem) WithRetryAfter(d time.Duration) *Problem {
	p.GetHeaders().Set("Retry-After", problem.RetryAfter(d))
	return p
}

func statusCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusInternalServerError:
		return CodeInternal
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge,
		http.StatusUnsupportedMediaType, http.StatusNotAcceptable, http.StatusMethodNotAllowed:
		return CodeInvalidRequest
	}
	return fmt.Sprintf("http_%d", status)
}

// problemTransformer rewrites huma's own error bodies (validation, size, negotiation) as
// Problems, so every error the API sends has the same shape and a code.
func problemTransformer(_ huma.Context, _ string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	code := statusCode(em.Status)
	return &Problem{Type: ProblemTypePrefix + code, Title: em.Title, Status: em.Status, Detail: em.Detail, Code: code,
		Instance: em.Instance, Errors: em.Errors}, nil
}

// problemFor maps a domain error to a Problem; unexpected errors are logged here, once.
func (a *API) problemFor(ctx context.Context, op string, err error) error {
	var fe *account.FieldError
	switch {
	case errors.Is(err, account.ErrWeakPassword) && errors.As(err, &fe):
		p := NewProblem(http.StatusUnprocessableEntity, CodeWeakPassword, "the password does not meet the rules")
		p.Errors = []*huma.ErrorDetail{{Location: "body." + fe.Field, Message: fe.Reason}}
		return p
	case errors.Is(err, account.ErrInvalidInput) && errors.As(err, &fe):
		p := NewProblem(http.StatusUnprocessableEntity, CodeInvalidRequest, "validation failed")
		p.Errors = []*huma.ErrorDetail{{Location: "body." + fe.Field, Message: fe.Reason}}
		return p
	case errors.Is(err, account.ErrEmailTaken):
		return NewProblem(http.StatusConflict, CodeEmailTaken, "an account with this email already exists")
	case errors.Is(err, account.ErrInvalidCredentials):
		return NewProblem(http.StatusUnauthorized, CodeInvalidCredentials, "invalid email or password")
	case errors.Is(err, account.ErrSuspended):
		return NewProblem(http.StatusForbidden, CodeAccountSuspended, "this account is suspended")
	case errors.Is(err, account.ErrRefreshReused):
		return NewProblem(http.StatusUnauthorized, CodeTokenReused, "refresh token already used; every session of this login was ended")
	case errors.Is(err, account.ErrRefreshInvalid):
		return NewProblem(http.StatusUnauthorized, CodeTokenInvalid, "refresh token invalid, expired or revoked")
	case errors.Is(err, account.ErrEmailUnverified):
		return NewProblem(http.StatusForbidden, CodeOIDCEmailUnverified, "the identity provider has not verified this email address")
	case errors.Is(err, account.ErrIdentityTaken):
		return NewProblem(http.StatusConflict, CodeIdentityConflict, "this identity was linked concurrently; try again")
	case errors.Is(err, account.ErrNotFound):
		return NewProblem(http.StatusUnauthorized, CodeUnauthorized, "the account no longer exists")
	case errors.Is(err, rideroidc.ErrUnknownProvider):
		return NewProblem(http.StatusNotFound, CodeUnknownProvider, "no such identity provider")
	case errors.Is(err, rideroidc.ErrState):
		return NewProblem(http.StatusBadRequest, CodeOIDCStateInvalid, "login state missing, expired or mismatched; start again")
	case errors.Is(err, rideroidc.ErrDenied):
		return NewProblem(http.StatusUnauthorized, CodeOIDCDenied, "the identity provider did not sign you in")
	case errors.Is(err, rideroidc.ErrExchange), errors.Is(err, rideroidc.ErrIDToken):
		a.log.Warn("oidc login rejected", "op", op, "err", err)
		return NewProblem(http.StatusUnauthorized, CodeOIDCFailed, "the identity provider's answer was rejected")
	case errors.Is(err, rideroidc.ErrUnavailable):
		a.log.Warn("oidc provider unavailable", "op", op, "err", err)
		return NewProblem(http.StatusBadGateway, CodeProviderUnavailable, "the identity provider is unavailable")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return NewProblem(http.StatusServiceUnavailable, "unavailable", "the request was cancelled or timed out")
	}
	a.log.Error("request failed", "op", op, "err", err)
	return NewProblem(http.StatusInternalServerError, CodeInternal, "internal error")
}

package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/problem"
)

// Problem codes (stable: dashboards switch on them).
const (
	CodeInvalidRequest     = "invalid_request"
	CodeWeakPassword       = "weak_password"
	CodeInvalidCredentials = "invalid_credentials"
	CodeLocked             = "locked"
	CodeRateLimited        = "rate_limited"
	CodeTOTPInvalid        = "totp_invalid"
	CodeTOTPReplay         = "totp_replay"
	CodeChallengeInvalid   = "challenge_invalid"
	CodeUnauthorized       = "unauthorized"
	CodeForbidden          = "forbidden"
	CodeSelfChange         = "self_change"
	CodeLastSuperAdmin     = "last_super_admin"
	CodeEmailTaken         = "email_taken"
	CodeUnknownRole        = "unknown_role"
	CodeTOTPEnabled        = "totp_enabled"
	CodeTOTPNotEnrolling   = "totp_not_enrolling"
	CodeNotFound           = "not_found"
	CodeUnavailable        = "unavailable"
	CodeInternal           = "internal"
)

// ProblemTypePrefix prefixes every problem type URI.
const ProblemTypePrefix = "urn:fleetedge:problem:"

// Problem is an RFC 9457 problem detail with a stable code.
type Problem struct {
	Type     string              `json:"type" doc:"URI of the problem type: urn:fleetedge:problem:<code>"`
	Title    string              `json:"title" doc:"Short human-readable summary (the HTTP status text)"`
	Status   int                 `json:"status" doc:"HTTP status code"`
	Detail   string              `json:"detail,omitempty" doc:"Human-readable explanation of this occurrence"`
	Code     string              `json:"code" doc:"Stable machine-readable error code"`
	Instance string              `json:"instance,omitempty" doc:"URI reference of this occurrence"`
	Missing  []string            `json:"missing_permissions,omitempty" nullable:"false" doc:"For forbidden: the permissions the caller lacks"`
	Errors   []*huma.ErrorDetail `json:"errors,omitempty" nullable:"false" doc:"For invalid_request and weak_password: which inputs are wrong"`

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
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge,
		http.StatusUnsupportedMediaType, http.StatusNotAcceptable, http.StatusMethodNotAllowed:
		return CodeInvalidRequest
	}
	return CodeInternal
}

// problemTransformer rewrites huma's own error bodies (validation, size, negotiation) as
// Problems, so every error of the API has the same shape and a code.
func problemTransformer(_ huma.Context, _ string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	code := statusCode(em.Status)
	return &Problem{Type: ProblemTypePrefix + code, Title: em.Title, Status: em.Status, Detail: em.Detail, Code: code,
		Instance: em.Instance, Errors: em.Errors}, nil
}

// problemFor turns a domain error into a Problem: the one place errors become HTTP. Unexpected
// errors are logged here, once.
func (a *API) problemFor(op string, err error) error {
	var fe *admin.FieldError
	var le *admin.LockedError
	var fb *admin.ForbiddenError
	switch {
	case errors.As(err, &fe):
		code := CodeInvalidRequest
		if errors.Is(err, admin.ErrWeakPassword) {
			code = CodeWeakPassword
		}
		p := NewProblem(http.StatusUnprocessableEntity, code, "validation failed")
		p.Errors = []*huma.ErrorDetail{{Location: "body." + fe.Field, Message: fe.Reason}}
		return p
	case errors.Is(err, admin.ErrInvalidInput), errors.Is(err, audit.ErrInvalid):
		return NewProblem(http.StatusUnprocessableEntity, CodeInvalidRequest, err.Error())
	case errors.As(err, &le):
		p := NewProblem(http.StatusTooManyRequests, CodeLocked, "too many failed attempts; the account is locked for a while")
		return p.WithRetryAfter(le.Until.Sub(a.cfg.Now()))
	case errors.Is(err, admin.ErrInvalidCredentials):
		return NewProblem(http.StatusUnauthorized, CodeInvalidCredentials, "invalid email or password")
	case errors.Is(err, admin.ErrTOTPInvalid):
		return NewProblem(http.StatusUnauthorized, CodeTOTPInvalid, "wrong one-time code")
	case errors.Is(err, admin.ErrTOTPReplay):
		return NewProblem(http.StatusUnauthorized, CodeTOTPReplay, "this one-time code was already used; wait for the next one")
	case errors.Is(err, admin.ErrChallengeInvalid):
		return NewProblem(http.StatusUnauthorized, CodeChallengeInvalid, "login challenge invalid or expired; log in again")
	case errors.Is(err, admin.ErrUnauthenticated):
		return NewProblem(http.StatusUnauthorized, CodeUnauthorized, "session invalid or expired")
	case errors.As(err, &fb):
		p := NewProblem(http.StatusForbidden, CodeForbidden, fb.Reason)
		for _, m := range fb.Missing {
			p.Missing = append(p.Missing, string(m))
		}
		return p
	case errors.Is(err, admin.ErrSelfChange):
		return NewProblem(http.StatusForbidden, CodeSelfChange, "admins cannot change their own roles or disable themselves")
	case errors.Is(err, admin.ErrLastSuperAdmin):
		return NewProblem(http.StatusConflict, CodeLastSuperAdmin, "at least one active super_admin must remain")
	case errors.Is(err, admin.ErrEmailTaken):
		return NewProblem(http.StatusConflict, CodeEmailTaken, "an admin with this email already exists")
	case errors.Is(err, admin.ErrUnknownRole):
		return NewProblem(http.StatusUnprocessableEntity, CodeUnknownRole, err.Error())
	case errors.Is(err, admin.ErrTOTPEnabled):
		return NewProblem(http.StatusConflict, CodeTOTPEnabled, "two-factor authentication is already enabled")
	case errors.Is(err, admin.ErrTOTPNotEnrolling):
		return NewProblem(http.StatusConflict, CodeTOTPNotEnrolling, "no two-factor enrolment in progress; start one first")
	case errors.Is(err, admin.ErrNotFound):
		return NewProblem(http.StatusNotFound, CodeNotFound, "no such admin")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return NewProblem(http.StatusServiceUnavailable, CodeUnavailable, "the request was cancelled or timed out")
	}
	a.log.Error("request failed", "op", op, "err", err)
	return NewProblem(http.StatusInternalServerError, CodeInternal, "internal error")
}

// errorResponses documents the problem responses of an operation (instead of huma's default
// error model), so the OpenAPI document describes exactly what the API sends.
func (a *API) errorResponses(op *huma.Operation, statuses []int) {
	schema := a.huma.OpenAPI().Components.Schemas.Schema(problemType, true, "Problem")
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	for _, s := range statuses {
		op.Responses[strconv.Itoa(s)] = &huma.Response{
			Description: fmt.Sprintf("%s (problem+json; codes: %s)", http.StatusText(s), a.codesFor(s)),
			Content:     map[string]*huma.MediaType{problem.MediaType: {Schema: schema}},
		}
	}
}

// baseCodes are the codes adminapi's own operations answer with, by status.
func baseCodes() map[int][]string {
	return map[int][]string{
		http.StatusBadRequest:            {CodeInvalidRequest},
		http.StatusUnauthorized:          {CodeUnauthorized, CodeInvalidCredentials, CodeTOTPInvalid, CodeTOTPReplay, CodeChallengeInvalid},
		http.StatusForbidden:             {CodeForbidden, CodeSelfChange},
		http.StatusNotFound:              {CodeNotFound},
		http.StatusConflict:              {CodeEmailTaken, CodeLastSuperAdmin, CodeTOTPEnabled, CodeTOTPNotEnrolling},
		http.StatusRequestEntityTooLarge: {CodeInvalidRequest},
		http.StatusUnprocessableEntity:   {CodeInvalidRequest, CodeWeakPassword, CodeUnknownRole},
		http.StatusTooManyRequests:       {CodeRateLimited, CodeLocked},
		http.StatusInternalServerError:   {CodeInternal},
		http.StatusServiceUnavailable:    {CodeUnavailable},
	}
}

// DeclareCodes adds problem codes an area's operations answer with at status. Call it before
// registering the operations: the codes join the Problem schema's code enum and the
// descriptions of the area's error responses, so generated clients know every code.
func (a *API) DeclareCodes(status int, codes ...string) {
	for _, c := range codes {
		if !slices.Contains(a.codes[status], c) {
			a.codes[status] = append(a.codes[status], c)
		}
	}
	a.syncCodeEnum()
}

// syncCodeEnum sets the Problem schema's code enum to every known code, sorted.
func (a *API) syncCodeEnum() {
	schema := a.huma.OpenAPI().Components.Schemas.Schema(problemType, true, "Problem")
	if schema.Ref != "" {
		schema = a.huma.OpenAPI().Components.Schemas.SchemaFromRef(schema.Ref)
	}
	prop := schema.Properties["code"]
	if prop == nil {
		return
	}
	var all []string
	for _, cs := range a.codes {
		all = append(all, cs...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	prop.Enum = prop.Enum[:0]
	for _, c := range all {
		prop.Enum = append(prop.Enum, c)
	}
}

// codesFor lists the codes a status can carry, for the documentation.
func (a *API) codesFor(status int) string {
	cs := slices.Sorted(slices.Values(a.codes[status])) // areas may declare in any order
	if len(cs) == 0 {
		return statusCode(status)
	}
	out := strings.Join(cs, ", ")
	if status == http.StatusTooManyRequests {
		out += " (with Retry-After)"
	}
	return out
}

package technicians

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
)

// Problem codes of this area (besides adminapi's not_found, invalid_request, weak_password,
// internal).
const (
	CodeUsernameTaken = "username_taken"
)

// Permission is what every technicians route requires.
const Permission = admin.PermVehiclesManage

// TechnicianBody is a technician's account (never the password or its hash).
type TechnicianBody struct {
	ID                string    `json:"id" format:"uuid" doc:"Technician id"`
	City              string    `json:"city" doc:"City code"`
	Username          string    `json:"username" doc:"Login name in the gateway's field UI, unique in the city"`
	DisplayName       string    `json:"display_name" doc:"Name shown in the field UI (may be empty)"`
	Status            string    `json:"status" enum:"active,disabled" doc:"Disabled technicians cannot log in; the gateway ends their sessions"`
	CreatedAt         time.Time `json:"created_at" doc:"When the account was created"`
	UpdatedAt         time.Time `json:"updated_at" doc:"Last change of the account"`
	PasswordChangedAt time.Time `json:"password_changed_at" doc:"Last password set or reset"`
}

func technicianBody(t Technician) TechnicianBody {
	return TechnicianBody{ID: t.ID, City: string(t.City), Username: t.Username, DisplayName: t.DisplayName, Status: t.Status,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, PasswordChangedAt: t.PasswordChangedAt}
}

// DocumentBody says whether the city's gateway has been sent the current accounts.
type DocumentBody struct {
	Version          int64     `json:"version" doc:"Version of the city's current technicians document (0: no technician ever)"`
	PublishedVersion int64     `json:"published_version" doc:"Highest version published to the city's configuration bucket (gateways apply it when connected)"`
	Pending          bool      `json:"pending" doc:"True while the current version is not published yet (retried in the background)"`
	PublishedAt      time.Time `json:"published_at,omitzero" doc:"When a version was last published; absent if never"`
	PublishError     string    `json:"publish_error,omitempty" doc:"Why the last publication failed; absent after a success"`
}

func documentBody(s DocState) DocumentBody {
	return DocumentBody{Version: s.Version, PublishedVersion: s.PublishedVersion, Pending: s.Pending(),
		PublishedAt: s.PublishedAt, PublishError: s.PublishError}
}

// TechnicianListBody lists a city's technicians.
type TechnicianListBody struct {
	Technicians []TechnicianBody `json:"technicians" nullable:"false" doc:"The city's technicians, by username"`
	Document    DocumentBody     `json:"document" doc:"Publication state of the city's technicians document"`
}

type cityInput struct {
	City string `path:"city" pattern:"^[a-z0-9_-]{1,64}$" doc:"City code"`
}

type technicianInput struct {
	City     string `path:"city" pattern:"^[a-z0-9_-]{1,64}$" doc:"City code"`
	Username string `path:"username" pattern:"^[a-z0-9][a-z0-9._@-]{0,63}$" doc:"Technician's username"`
}

// CreateTechnicianBody is what creating a technician takes.
type CreateTechnicianBody struct {
	Username    string `json:"username" minLength:"1" maxLength:"64" pattern:"^[a-z0-9][a-z0-9._@-]{0,63}$" doc:"Login name: 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit"`
	DisplayName string `json:"display_name,omitempty" maxLength:"200" doc:"Name shown in the field UI"`
	Password    string `json:"password" minLength:"10" maxLength:"512" doc:"Initial password (10-128 characters, not common, not containing the username); only its argon2id hash is kept"`
}

type createInput struct {
	City string `path:"city" pattern:"^[a-z0-9_-]{1,64}$" doc:"City code"`
	Body CreateTechnicianBody
}

// TechnicianPasswordBody is a technician's new password.
type TechnicianPasswordBody struct {
	Password string `json:"password" minLength:"10" maxLength:"512" doc:"New password (10-128 characters, not common, not containing the username)"`
}

type passwordInput struct {
	City     string `path:"city" pattern:"^[a-z0-9_-]{1,64}$" doc:"City code"`
	Username string `path:"username" pattern:"^[a-z0-9][a-z0-9._@-]{0,63}$" doc:"Technician's username"`
	Body     TechnicianPasswordBody
}

type technicianOutput struct{ Body TechnicianBody }
type listOutput struct{ Body TechnicianListBody }
type noContent struct{}

// Register adds the technicians routes to the admin API.
func (s *Service) Register(api *adminapi.API) {
	tags := []string{"technicians"}
	base := adminapi.Prefix + "/cities/{city}/technicians"
	req := adminapi.Requires(Permission)
	// 503: the request was cancelled or timed out (a change made is still published).
	nf, conflict, unav := http.StatusNotFound, http.StatusConflict, http.StatusServiceUnavailable
	api.DeclareCodes(conflict, CodeUsernameTaken)
	adminapi.Register(api, huma.Operation{OperationID: "list-technicians", Method: http.MethodGet, Path: base, Tags: tags,
		Summary:     "List a city's field technicians",
		Description: "With the publication state of the accounts document the city's gateway caches (the gateway verifies logins offline)."},
		req, []int{nf, unav}, s.apiList)
	adminapi.Register(api, huma.Operation{OperationID: "create-technician", Method: http.MethodPost, Path: base, Tags: tags,
		Summary: "Create a field technician", DefaultStatus: http.StatusCreated,
		Description: "The account can log in to the city gateway's field UI once the gateway has the new accounts document " +
			"(published at once; retried in the background while NATS is unreachable). Codes: username_taken (409), weak_password (422). " +
			"Audited (technician.create)."},
		req, []int{nf, conflict, unav}, s.apiCreate)
	adminapi.Register(api, huma.Operation{OperationID: "get-technician", Method: http.MethodGet, Path: base + "/{username}", Tags: tags,
		Summary: "Get a field technician"}, req, []int{nf, unav}, s.apiGet)
	adminapi.Register(api, huma.Operation{OperationID: "reset-technician-password", Method: http.MethodPost, Path: base + "/{username}/password", Tags: tags,
		Summary:     "Set a field technician's new password",
		Description: "The gateway ends the technician's open sessions when it gets the new document. Audited (technician.password_reset)."},
		req, []int{nf, unav}, s.apiResetPassword)
	adminapi.Register(api, huma.Operation{OperationID: "disable-technician", Method: http.MethodPost, Path: base + "/{username}/disable", Tags: tags,
		Summary:     "Disable a field technician",
		Description: "Removes the account from the gateway's document: logins are refused and open sessions end. Idempotent. Audited (technician.disable)."},
		req, []int{nf, unav}, s.apiDisable)
	adminapi.Register(api, huma.Operation{OperationID: "enable-technician", Method: http.MethodPost, Path: base + "/{username}/enable", Tags: tags,
		Summary: "Enable a disabled field technician", Description: "Idempotent. Audited (technician.enable)."},
		req, []int{nf, unav}, s.apiEnable)
	adminapi.Register(api, huma.Operation{OperationID: "delete-technician", Method: http.MethodDelete, Path: base + "/{username}", Tags: tags,
		Summary: "Delete a field technician", DefaultStatus: http.StatusNoContent,
		Description: "As disable, and the username can be used again. Audited (technician.delete)."},
		req, []int{nf, unav}, s.apiDelete)
}

func actor(ctx context.Context) (audit.Actor, error) {
	a, ok := adminapi.Actor(ctx)
	if !ok {
		return audit.Actor{}, adminapi.NewProblem(http.StatusUnauthorized, adminapi.CodeUnauthorized, "not authenticated")
	}
	return a, nil
}

// problem turns a domain error into the API's problem: the one place for this area.
func (s *Service) problem(op string, err error) error {
	var fe *FieldError
	switch {
	case errors.As(err, &fe):
		code := adminapi.CodeInvalidRequest
		if errors.Is(err, ErrWeakPassword) {
			code = adminapi.CodeWeakPassword
		}
		p := adminapi.NewProblem(http.StatusUnprocessableEntity, code, "validation failed")
		p.Errors = []*huma.ErrorDetail{{Location: "body." + fe.Field, Message: fe.Reason}}
		return p
	case errors.Is(err, ErrNotFound):
		return adminapi.NewProblem(http.StatusNotFound, adminapi.CodeNotFound, err.Error())
	case errors.Is(err, ErrUsernameTaken):
		return adminapi.NewProblem(http.StatusConflict, CodeUsernameTaken, "the city already has a technician with this username")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return adminapi.NewProblem(http.StatusServiceUnavailable, adminapi.CodeUnavailable, "the request was cancelled or timed out")
	}
	s.log.Error("technicians request failed", "op", op, "err", err)
	return adminapi.NewProblem(http.StatusInternalServerError, adminapi.CodeInternal, "internal error")
}

func (s *Service) apiList(ctx context.Context, in *cityInput) (*listOutput, error) {
	list, st, err := s.List(ctx, in.City)
	if err != nil {
		return nil, s.problem("list technicians", err)
	}
	out := &listOutput{Body: TechnicianListBody{Technicians: make([]TechnicianBody, 0, len(list)), Document: documentBody(st)}}
	for _, t := range list {
		out.Body.Technicians = append(out.Body.Technicians, technicianBody(t))
	}
	return out, nil
}

func (s *Service) apiCreate(ctx context.Context, in *createInput) (*technicianOutput, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.Create(ctx, a, in.City, NewTechnician{Username: in.Body.Username, DisplayName: in.Body.DisplayName, Password: in.Body.Password})
	if err != nil {
		return nil, s.problem("create technician", err)
	}
	return &technicianOutput{Body: technicianBody(t)}, nil
}

func (s *Service) apiGet(ctx context.Context, in *technicianInput) (*technicianOutput, error) {
	t, err := s.Get(ctx, in.City, in.Username)
	if err != nil {
		return nil, s.problem("get technician", err)
	}
	return &technicianOutput{Body: technicianBody(t)}, nil
}

func (s *Service) apiResetPassword(ctx context.Context, in *passwordInput) (*technicianOutput, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.ResetPassword(ctx, a, in.City, in.Username, in.Body.Password)
	if err != nil {
		return nil, s.problem("reset technician password", err)
	}
	return &technicianOutput{Body: technicianBody(t)}, nil
}

func (s *Service) setStatus(ctx context.Context, in *technicianInput, status string) (*technicianOutput, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.SetStatus(ctx, a, in.City, in.Username, status)
	if err != nil {
		return nil, s.problem("set technician status", err)
	}
	return &technicianOutput{Body: technicianBody(t)}, nil
}

func (s *Service) apiDisable(ctx context.Context, in *technicianInput) (*technicianOutput, error) {
	return s.setStatus(ctx, in, StatusDisabled)
}

func (s *Service) apiEnable(ctx context.Context, in *technicianInput) (*technicianOutput, error) {
	return s.setStatus(ctx, in, StatusActive)
}

func (s *Service) apiDelete(ctx context.Context, in *technicianInput) (*noContent, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.Delete(ctx, a, in.City, in.Username); err != nil {
		return nil, s.problem("delete technician", err)
	}
	return &noContent{}, nil
}

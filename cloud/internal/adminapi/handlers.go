package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
)

// AdminBody is an admin account.
type AdminBody struct {
	ID          string     `json:"id" format:"uuid" doc:"Admin id"`
	Email       string     `json:"email" doc:"Login email (lower case)"`
	DisplayName string     `json:"display_name" doc:"Name shown in dashboards and the audit log"`
	Status      string     `json:"status" enum:"active,disabled" doc:"Disabled admins cannot log in"`
	Roles       []string   `json:"roles" nullable:"false" doc:"Names of the roles held (see GET /admin/v1/roles)"`
	TOTPEnabled bool       `json:"totp_enabled" doc:"Whether login needs a TOTP code"`
	CreatedAt   time.Time  `json:"created_at" doc:"When the account was created"`
	UpdatedAt   time.Time  `json:"updated_at" doc:"Last change of the account"`
	LastLoginAt *time.Time `json:"last_login_at,omitempty" doc:"Last successful login, absent if never"`
}

func adminBody(a admin.Admin) AdminBody {
	roles := a.Roles
	if roles == nil {
		roles = []string{}
	}
	return AdminBody{ID: a.ID, Email: a.Email, DisplayName: a.DisplayName, Status: a.Status, Roles: roles,
		TOTPEnabled: a.TOTPEnabled, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, LastLoginAt: a.LastLoginAt}
}

// SessionBody is a new session.
type SessionBody struct {
	Token     string    `json:"token" doc:"Bearer token for the Authorization header; shown once"`
	ExpiresAt time.Time `json:"expires_at" doc:"Absolute expiry; the session also ends after 30 min unused"`
	Admin     AdminBody `json:"admin" doc:"The logged-in admin"`
}

// ChallengeBody is the second login step's token.
type ChallengeBody struct {
	Token     string    `json:"token" doc:"Challenge for POST /admin/v1/auth/login/totp; single use"`
	ExpiresAt time.Time `json:"expires_at" doc:"When the challenge expires"`
}

// LoginBody is the answer to a password login.
type LoginBody struct {
	Status    string         `json:"status" enum:"ok,totp_required" doc:"ok: session holds the new session; totp_required: send challenge and a code to /auth/login/totp"`
	Session   *SessionBody   `json:"session,omitempty" doc:"Present when status is ok"`
	Challenge *ChallengeBody `json:"challenge,omitempty" doc:"Present when status is totp_required"`
}

type loginInput struct {
	Body struct {
		Email    string `json:"email" minLength:"3" maxLength:"254" doc:"Admin email"`
		Password string `json:"password" minLength:"1" maxLength:"1024" doc:"Password"`
	}
}

type loginOutput struct{ Body LoginBody }

type totpLoginInput struct {
	Body struct {
		Challenge string `json:"challenge" minLength:"1" maxLength:"64" doc:"challenge.token from /auth/login"`
		Code      string `json:"code" pattern:"^[0-9]{6}$" doc:"6-digit code from the authenticator app"`
	}
}

type sessionOutput struct{ Body SessionBody }

type noInput struct{}

type noContent struct{}

// MeBody is the logged-in admin with their effective permissions.
type MeBody struct {
	Admin       AdminBody `json:"admin" doc:"The admin"`
	Permissions []string  `json:"permissions" nullable:"false" doc:"Union of the permissions of the admin's roles, sorted"`
	SessionID   string    `json:"session_id" format:"uuid" doc:"Id of this session (as in audit entries of login/logout)"`
}

type meOutput struct{ Body MeBody }

// EnrolmentBody is a pending TOTP secret.
type EnrolmentBody struct {
	Secret string `json:"secret" doc:"Base32 secret (for manual entry); shown once"`
	URI    string `json:"otpauth_uri" doc:"otpauth://totp/… URI for a QR code (SHA1, 6 digits, 30 s)"`
}

type enrolOutput struct{ Body EnrolmentBody }

type codeInput struct {
	Body struct {
		Code string `json:"code" pattern:"^[0-9]{6}$" doc:"Current 6-digit code from the authenticator app"`
	}
}

// AdminListBody lists admins.
type AdminListBody struct {
	Admins []AdminBody `json:"admins" nullable:"false" doc:"Every admin, by email"`
}

type adminListOutput struct{ Body AdminListBody }

type adminOutput struct{ Body AdminBody }

type createAdminInput struct {
	Body struct {
		Email       string   `json:"email" minLength:"3" maxLength:"254" doc:"Login email"`
		DisplayName string   `json:"display_name" minLength:"1" maxLength:"200" doc:"Name shown in dashboards"`
		Password    string   `json:"password" minLength:"12" maxLength:"256" doc:"Initial password (12..256 characters)"`
		Roles       []string `json:"roles" nullable:"false" maxItems:"16" doc:"Role names; each role's permissions must all be held by the caller"`
	}
}

type adminIDInput struct {
	ID string `path:"id" format:"uuid" doc:"Admin id"`
}

type setRolesInput struct {
	ID   string `path:"id" format:"uuid" doc:"Admin id"`
	Body struct {
		Roles []string `json:"roles" nullable:"false" maxItems:"16" doc:"The complete new set of role names"`
	}
}

// RoleBody is a role and its permissions.
type RoleBody struct {
	Name        string   `json:"name" doc:"Role name"`
	Description string   `json:"description" doc:"What the role is for"`
	Permissions []string `json:"permissions" nullable:"false" doc:"Permission codes the role grants, sorted"`
}

// RoleListBody lists roles.
type RoleListBody struct {
	Roles []RoleBody `json:"roles" nullable:"false" doc:"Every role, by name"`
}

type roleListOutput struct{ Body RoleListBody }

type auditInput struct {
	Admin      string    `query:"admin" format:"uuid" doc:"Only entries by this admin id"`
	Action     string    `query:"action" maxLength:"128" doc:"Only this action (e.g. admin.create), or a prefix ending in .* (e.g. admin.*)"`
	TargetType string    `query:"target_type" maxLength:"64" doc:"Only entries about this kind of target (e.g. admin, rider)"`
	TargetID   string    `query:"target_id" maxLength:"255" doc:"Only entries about this target id"`
	From       time.Time `query:"from" doc:"Only entries at or after this time (RFC 3339)"`
	To         time.Time `query:"to" doc:"Only entries before this time (RFC 3339)"`
	Limit      int       `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Page size"`
	Cursor     string    `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
}

// AuditEntryBody is one audit log entry.
type AuditEntryBody struct {
	ID         int64          `json:"id" doc:"Entry id (increasing)"`
	At         time.Time      `json:"at" doc:"When it happened"`
	AdminID    string         `json:"admin_id,omitempty" format:"uuid" doc:"Acting admin id; absent for the system (bootstrap)"`
	AdminEmail string         `json:"admin_email" doc:"Acting admin's email at the time (or system:bootstrap)"`
	Action     string         `json:"action" doc:"What was done, area.verb (e.g. admin.roles_set)"`
	TargetType string         `json:"target_type" doc:"Kind of the target (admin, admin_session, rider, …)"`
	TargetID   string         `json:"target_id" doc:"Id of the target (may be empty)"`
	Details    map[string]any `json:"details" doc:"JSON object: before/after state where it matters and other facts of the action"`
	IP         string         `json:"ip,omitempty" doc:"Client IP address, absent when unknown"`
	UserAgent  string         `json:"user_agent,omitempty" doc:"Client user agent"`
	RequestID  string         `json:"request_id,omitempty" doc:"X-Request-Id of the request"`
}

// AuditPageBody is a page of audit entries, newest first.
type AuditPageBody struct {
	Entries    []AuditEntryBody `json:"entries" nullable:"false" doc:"Entries, newest first"`
	NextCursor string           `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page"`
}

type auditOutput struct{ Body AuditPageBody }

func (a *API) principal(ctx context.Context) (admin.Principal, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return admin.Principal{}, NewProblem(http.StatusUnauthorized, CodeUnauthorized, "not authenticated")
	}
	return p, nil
}

func (a *API) register() {
	tagAuth, tagAdmins, tagAudit := []string{"auth"}, []string{"admins"}, []string{"audit"}
	r := http.StatusTooManyRequests
	Register(a, huma.Operation{OperationID: "login", Method: http.MethodPost, Path: Prefix + "/auth/login", Tags: tagAuth,
		Summary: "Log in with email and password", Description: "Opens a session, or returns a TOTP challenge when the admin has two-factor authentication. Rate limited per IP; repeated failures lock the account."},
		Public(), []int{http.StatusUnauthorized, r}, a.login)
	Register(a, huma.Operation{OperationID: "login-totp", Method: http.MethodPost, Path: Prefix + "/auth/login/totp", Tags: tagAuth,
		Summary: "Complete a login with a TOTP code", Description: "Each code is accepted once; wrong codes count towards the lockout."},
		Public(), []int{http.StatusUnauthorized, r}, a.loginTOTP)
	Register(a, huma.Operation{OperationID: "logout", Method: http.MethodPost, Path: Prefix + "/auth/logout", Tags: tagAuth,
		Summary: "End this session", DefaultStatus: http.StatusNoContent}, Authenticated(), nil, a.logout)
	Register(a, huma.Operation{OperationID: "get-me", Method: http.MethodGet, Path: Prefix + "/me", Tags: tagAuth,
		Summary: "The logged-in admin and their permissions"}, Authenticated(), nil, a.me)
	Register(a, huma.Operation{OperationID: "start-totp", Method: http.MethodPost, Path: Prefix + "/me/totp", Tags: tagAuth,
		Summary: "Start two-factor enrolment", Description: "Returns a new secret; it becomes active after POST /me/totp/confirm."},
		Authenticated(), []int{http.StatusConflict}, a.startTOTP)
	Register(a, huma.Operation{OperationID: "confirm-totp", Method: http.MethodPost, Path: Prefix + "/me/totp/confirm", Tags: tagAuth,
		Summary: "Confirm two-factor enrolment with a code", DefaultStatus: http.StatusNoContent},
		Authenticated(), []int{http.StatusUnauthorized, http.StatusConflict}, a.confirmTOTP)
	Register(a, huma.Operation{OperationID: "change-password", Method: http.MethodPost, Path: Prefix + "/me/password", Tags: tagAuth,
		Summary: "Change one's own password", DefaultStatus: http.StatusNoContent,
		Description: "Needs the current password (wrong ones count towards the lockout); ends the admin's other sessions. Audited (admin.password_change)."},
		Authenticated(), []int{http.StatusUnauthorized, r}, a.changePassword)
	Register(a, huma.Operation{OperationID: "list-admins", Method: http.MethodGet, Path: Prefix + "/admins", Tags: tagAdmins,
		Summary: "List admins"}, Requires(admin.PermAdminsRead), nil, a.listAdmins)
	Register(a, huma.Operation{OperationID: "create-admin", Method: http.MethodPost, Path: Prefix + "/admins", Tags: tagAdmins,
		Summary: "Create an admin", DefaultStatus: http.StatusCreated,
		Description: "The caller must hold every permission of the roles granted. Audited (admin.create)."},
		Requires(admin.PermAdminsManage), []int{http.StatusConflict}, a.createAdmin)
	Register(a, huma.Operation{OperationID: "get-admin", Method: http.MethodGet, Path: Prefix + "/admins/{id}", Tags: tagAdmins,
		Summary: "Get an admin"}, Requires(admin.PermAdminsRead), []int{http.StatusNotFound}, a.getAdmin)
	Register(a, huma.Operation{OperationID: "set-admin-roles", Method: http.MethodPut, Path: Prefix + "/admins/{id}/roles", Tags: tagAdmins,
		Summary:     "Replace an admin's roles",
		Description: "Not on oneself; the caller must hold every permission of the target's current and new roles; the last active super_admin stays. Audited (admin.roles_set, before/after)."},
		Requires(admin.PermAdminsManage), []int{http.StatusNotFound, http.StatusConflict}, a.setRoles)
	Register(a, huma.Operation{OperationID: "disable-admin", Method: http.MethodPost, Path: Prefix + "/admins/{id}/disable", Tags: tagAdmins,
		Summary:     "Disable an admin and end their sessions",
		Description: "Not oneself; the caller must hold every permission of the target; the last active super_admin stays. Audited (admin.disable)."},
		Requires(admin.PermAdminsManage), []int{http.StatusNotFound, http.StatusConflict}, a.disable)
	Register(a, huma.Operation{OperationID: "reset-admin-totp", Method: http.MethodDelete, Path: Prefix + "/admins/{id}/totp", Tags: tagAdmins,
		Summary:     "Remove an admin's second factor (lost device) and end their sessions",
		Description: "Not on oneself; the caller must hold every permission of the target. Audited (admin.totp_reset)."},
		Requires(admin.PermAdminsManage), []int{http.StatusNotFound}, a.resetTOTP)
	Register(a, huma.Operation{OperationID: "list-roles", Method: http.MethodGet, Path: Prefix + "/roles", Tags: tagAdmins,
		Summary: "List roles with their permissions"}, Requires(admin.PermAdminsRead), nil, a.listRoles)
	Register(a, huma.Operation{OperationID: "list-audit", Method: http.MethodGet, Path: Prefix + "/audit", Tags: tagAudit,
		Summary: "Read the audit log", Description: "Newest first; filters combine with AND."},
		Requires(admin.PermAuditRead), nil, a.listAudit)
}

func (a *API) login(ctx context.Context, in *loginInput) (*loginOutput, error) {
	if err := a.limitLogin(ctx); err != nil {
		return nil, err
	}
	res, err := a.cfg.Admins.Login(ctx, in.Body.Email, in.Body.Password, clientFrom(ctx))
	if err != nil {
		return nil, a.problemFor("login", err)
	}
	out := &loginOutput{}
	if res.Challenge != nil {
		out.Body = LoginBody{Status: "totp_required", Challenge: &ChallengeBody{Token: res.Challenge.Token, ExpiresAt: res.Challenge.ExpiresAt}}
		return out, nil
	}
	s := sessionBody(res.Session)
	out.Body = LoginBody{Status: "ok", Session: &s}
	return out, nil
}

func sessionBody(s *admin.Session) SessionBody {
	return SessionBody{Token: s.Token, ExpiresAt: s.ExpiresAt, Admin: adminBody(s.Admin)}
}

func (a *API) loginTOTP(ctx context.Context, in *totpLoginInput) (*sessionOutput, error) {
	if err := a.limitLogin(ctx); err != nil {
		return nil, err
	}
	s, err := a.cfg.Admins.LoginTOTP(ctx, in.Body.Challenge, in.Body.Code, clientFrom(ctx))
	if err != nil {
		return nil, a.problemFor("login totp", err)
	}
	return &sessionOutput{Body: sessionBody(s)}, nil
}

func (a *API) logout(ctx context.Context, _ *noInput) (*noContent, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.cfg.Admins.Logout(ctx, p, clientFrom(ctx)); err != nil {
		return nil, a.problemFor("logout", err)
	}
	return &noContent{}, nil
}

func (a *API) me(ctx context.Context, _ *noInput) (*meOutput, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	ad, err := a.cfg.Admins.GetAdmin(ctx, p.AdminID)
	if err != nil {
		return nil, a.problemFor("me", err)
	}
	perms := []string{}
	for _, x := range p.Permissions.Sorted() {
		perms = append(perms, string(x))
	}
	return &meOutput{Body: MeBody{Admin: adminBody(ad), Permissions: perms, SessionID: p.SessionID}}, nil
}

func (a *API) startTOTP(ctx context.Context, _ *noInput) (*enrolOutput, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	e, err := a.cfg.Admins.StartTOTP(ctx, p, clientFrom(ctx))
	if err != nil {
		return nil, a.problemFor("start totp", err)
	}
	return &enrolOutput{Body: EnrolmentBody{Secret: e.Secret, URI: e.URI}}, nil
}

func (a *API) confirmTOTP(ctx context.Context, in *codeInput) (*noContent, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.cfg.Admins.ConfirmTOTP(ctx, p, in.Body.Code, clientFrom(ctx)); err != nil {
		return nil, a.problemFor("confirm totp", err)
	}
	return &noContent{}, nil
}

func (a *API) listAdmins(ctx context.Context, _ *noInput) (*adminListOutput, error) {
	list, err := a.cfg.Admins.ListAdmins(ctx)
	if err != nil {
		return nil, a.problemFor("list admins", err)
	}
	out := &adminListOutput{Body: AdminListBody{Admins: make([]AdminBody, 0, len(list))}}
	for _, x := range list {
		out.Body.Admins = append(out.Body.Admins, adminBody(x))
	}
	return out, nil
}

func (a *API) createAdmin(ctx context.Context, in *createAdminInput) (*adminOutput, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	ad, err := a.cfg.Admins.CreateAdmin(ctx, p, admin.NewAdmin{Email: in.Body.Email, DisplayName: in.Body.DisplayName,
		Password: in.Body.Password, Roles: in.Body.Roles}, clientFrom(ctx))
	if err != nil {
		return nil, a.problemFor("create admin", err)
	}
	return &adminOutput{Body: adminBody(ad)}, nil
}

func (a *API) getAdmin(ctx context.Context, in *adminIDInput) (*adminOutput, error) {
	ad, err := a.cfg.Admins.GetAdmin(ctx, in.ID)
	if err != nil {
		return nil, a.problemFor("get admin", err)
	}
	return &adminOutput{Body: adminBody(ad)}, nil
}

func (a *API) setRoles(ctx context.Context, in *setRolesInput) (*adminOutput, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	ad, err := a.cfg.Admins.SetRoles(ctx, p, in.ID, in.Body.Roles, clientFrom(ctx))
	if err != nil {
		return nil, a.problemFor("set roles", err)
	}
	return &adminOutput{Body: adminBody(ad)}, nil
}

func (a *API) disable(ctx context.Context, in *adminIDInput) (*adminOutput, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	ad, err := a.cfg.Admins.Disable(ctx, p, in.ID, clientFrom(ctx))
	if err != nil {
		return nil, a.problemFor("disable admin", err)
	}
	return &adminOutput{Body: adminBody(ad)}, nil
}

type passwordInput struct {
	Body struct {
		Current string `json:"current_password" minLength:"1" maxLength:"1024" doc:"The current password"`
		New     string `json:"new_password" minLength:"12" maxLength:"256" doc:"The new password (12..256 characters)"`
	}
}

func (a *API) changePassword(ctx context.Context, in *passwordInput) (*noContent, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.cfg.Admins.ChangePassword(ctx, p, in.Body.Current, in.Body.New, clientFrom(ctx)); err != nil {
		return nil, a.problemFor("change password", err)
	}
	return &noContent{}, nil
}

func (a *API) resetTOTP(ctx context.Context, in *adminIDInput) (*adminOutput, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	ad, err := a.cfg.Admins.ResetTOTP(ctx, p, in.ID, clientFrom(ctx))
	if err != nil {
		return nil, a.problemFor("reset totp", err)
	}
	return &adminOutput{Body: adminBody(ad)}, nil
}

func (a *API) listRoles(ctx context.Context, _ *noInput) (*roleListOutput, error) {
	roles, err := a.cfg.Admins.Roles(ctx)
	if err != nil {
		return nil, a.problemFor("list roles", err)
	}
	out := &roleListOutput{Body: RoleListBody{Roles: make([]RoleBody, 0, len(roles))}}
	for _, r := range roles {
		perms := make([]string, 0, len(r.Permissions))
		for _, p := range r.Permissions {
			perms = append(perms, string(p))
		}
		out.Body.Roles = append(out.Body.Roles, RoleBody{Name: r.Name, Description: r.Description, Permissions: perms})
	}
	return out, nil
}

func (a *API) listAudit(ctx context.Context, in *auditInput) (*auditOutput, error) {
	page, err := audit.List(ctx, a.cfg.Audit, audit.Filter{AdminID: in.Admin, Action: in.Action, TargetType: in.TargetType,
		TargetID: in.TargetID, From: in.From, To: in.To, Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, a.problemFor("list audit", err)
	}
	out := &auditOutput{Body: AuditPageBody{Entries: make([]AuditEntryBody, 0, len(page.Records)), NextCursor: page.Next}}
	for _, r := range page.Records {
		e := AuditEntryBody{ID: r.ID, At: r.At, AdminID: r.AdminID, AdminEmail: r.AdminEmail, Action: r.Action,
			TargetType: r.TargetType, TargetID: r.TargetID, Details: map[string]any{}, UserAgent: r.UserAgent, RequestID: r.RequestID}
		if err := json.Unmarshal(r.Details, &e.Details); err != nil {
			return nil, a.problemFor("list audit", fmt.Errorf("adminapi: audit entry %d details: %w", r.ID, err))
		}
		if r.IP.IsValid() {
			e.IP = r.IP.String()
		}
		out.Body.Entries = append(out.Body.Entries, e)
	}
	return out, nil
}

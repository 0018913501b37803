package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
)

// Recorder writes an audit entry inside tx (audit.Record; tests wrap it to inject failures).
type Recorder func(ctx context.Context, tx pgx.Tx, e audit.Entry) (int64, error)

// Config configures a Service. Zero durations and counts take the documented defaults.
type Config struct {
	Pool *pgxpool.Pool
	// Keyring seals TOTP secrets.
	Keyring *fieldcrypt.Keyring
	Argon2  Argon2Params
	// SessionTTL is a session's absolute lifetime (default 8 h); IdleTimeout ends it earlier
	// when unused (default 30 min); ChallengeTTL bounds the password→TOTP step (default 5 min).
	SessionTTL, IdleTimeout, ChallengeTTL time.Duration
	// MaxFailures consecutive failures lock an account for LockoutDuration (defaults 5, 15 min).
	MaxFailures     int
	LockoutDuration time.Duration
	// TOTPIssuer names the service in authenticator apps (default "fleetedge").
	TOTPIssuer string
	Record     Recorder
	Now        func() time.Time
	Log        *slog.Logger
}

// Service manages admin accounts, sessions, roles and their audit entries.
type Service struct {
	cfg   Config
	log   *slog.Logger
	dummy string // argon2id hash verified for unknown emails
	// verify checks a password against a hash (verifyPassword; tests count the calls).
	verify func(encoded, password string) bool
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Pool == nil || cfg.Keyring == nil {
		return nil, errors.New("admin: pool and keyring are required")
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2
	}
	if err := cfg.Argon2.validate(); err != nil {
		return nil, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.SessionTTL, 8*time.Hour)
	def(&cfg.IdleTimeout, 30*time.Minute)
	def(&cfg.ChallengeTTL, 5*time.Minute)
	def(&cfg.LockoutDuration, 15*time.Minute)
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = 5
	}
	if cfg.SessionTTL < 0 || cfg.IdleTimeout < 0 || cfg.ChallengeTTL < 0 || cfg.LockoutDuration < 0 || cfg.MaxFailures < 1 {
		return nil, fmt.Errorf("%w: negative duration or max failures < 1", ErrInvalidInput)
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "fleetedge"
	}
	if cfg.Record == nil {
		cfg.Record = audit.Record
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	dummy, err := hashPassword(cfg.Argon2, string(pw))
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: cfg.Log, dummy: dummy, verify: verifyPassword}, nil
}

// Client is where a request comes from (recorded in sessions and audit entries).
type Client struct {
	IP        netip.Addr
	UserAgent string
	RequestID string
}

// Principal is an authenticated admin with the permissions of their roles at request time.
type Principal struct {
	AdminID     string
	Email       string
	DisplayName string
	SessionID   string
	Roles       []string
	Permissions PermissionSet
	TOTPEnabled bool
}

func (p Principal) actor(c Client) audit.Actor {
	return audit.Actor{AdminID: p.AdminID, Email: p.Email, IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID}
}

// Admin is an admin account as shown to admins.
type Admin struct {
	ID          string
	Email       string
	DisplayName string
	Status      string // active | disabled
	Roles       []string
	TOTPEnabled bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt *time.Time
}

// Role is a role with its permissions.
type Role struct {
	Name        string
	Description string
	Permissions []Permission
}

// Session is a new session: Token is shown once and stored only hashed.
type Session struct {
	Token     string
	ExpiresAt time.Time
	Admin     Admin
}

// Challenge is the token of a password login awaiting its TOTP code.
type Challenge struct {
	Token     string
	ExpiresAt time.Time
}

// LoginResult has exactly one of Session (logged in) or Challenge (TOTP code needed).
type LoginResult struct {
	Session   *Session
	Challenge *Challenge
}

// Enrolment is a pending TOTP secret, shown once: Secret in base32 and an otpauth:// URI.
type Enrolment struct {
	Secret string
	URI    string
}

// NewAdmin is the input of CreateAdmin.
type NewAdmin struct {
	Email       string
	DisplayName string
	Password    string
	Roles       []string
}

const tokenPrefix = "fea_"

func newToken() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("admin: token: %w", err)
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(tok))
	return tok, h[:], nil
}

func tokenHash(tok string) ([]byte, bool) {
	if !strings.HasPrefix(tok, tokenPrefix) || len(tok) != len(tokenPrefix)+43 {
		return nil, false
	}
	h := sha256.Sum256([]byte(tok))
	return h[:], true
}

func normEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(s, " \t\r\n") || strings.Contains(domain, "@") ||
		!utf8.ValidString(s) || len(s) > audit.MaxEmail {
		return "", invalid("email", "must be an email address of at most 254 bytes")
	}
	return s, nil
}

func ipArg(ip netip.Addr) any {
	if !ip.IsValid() {
		return nil
	}
	return ip.Unmap().String()
}

func uaArg(ua string) string {
	if utf8.RuneCountInString(ua) > audit.MaxUserAgent {
		return string([]rune(ua)[:audit.MaxUserAgent])
	}
	return ua
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// Login checks email and password. Without TOTP it opens a session; with TOTP it returns a
// challenge for LoginTOTP. Unknown and disabled accounts fail like a wrong password.
func (s *Service) Login(ctx context.Context, email, password string, c Client) (LoginResult, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if len(email) > audit.MaxEmail || len(password) > 4*MaxPasswordLen {
		s.verifyDummy(password)
		return LoginResult{}, ErrInvalidCredentials
	}
	var res LoginResult
	var loginErr error
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var id, addr, hash, status string
		var totp bool
		var failed int
		var lockedUntil *time.Time
		err := tx.QueryRow(ctx, `SELECT id, email, password_hash, status, totp_ciphertext IS NOT NULL, failed_logins, locked_until
			FROM admins WHERE lower(email) = $1 FOR UPDATE`, email).Scan(&id, &addr, &hash, &status, &totp, &failed, &lockedUntil)
		if errors.Is(err, pgx.ErrNoRows) {
			s.verifyDummy(password)
			loginErr = ErrInvalidCredentials
			return nil
		}
		if err != nil {
			return fmt.Errorf("admin: login: %w", err)
		}
		ok := s.verify(hash, password)
		now := s.cfg.Now()
		if lockedUntil != nil && now.Before(*lockedUntil) {
			loginErr = &LockedError{Until: *lockedUntil}
			return nil
		}
		if status != "active" {
			loginErr = ErrInvalidCredentials
			return nil
		}
		if !ok {
			loginErr, err = s.fail(ctx, tx, id, addr, failed, lockedUntil, c, ErrInvalidCredentials)
			return err
		}
		if totp {
			tok, h, err := newToken()
			if err != nil {
				return err
			}
			exp := now.Add(s.cfg.ChallengeTTL)
			if _, err := tx.Exec(ctx, `INSERT INTO admin_sessions (admin_id, token_hash, stage, created_at, last_seen_at, expires_at, source_ip, user_agent)
				VALUES ($1, $2, 'totp', $3, $3, $4, $5::inet, nullif($6, ''))`, id, h, now, exp, ipArg(c.IP), uaArg(c.UserAgent)); err != nil {
				return fmt.Errorf("admin: login challenge: %w", err)
			}
			res.Challenge = &Challenge{Token: tok, ExpiresAt: exp}
			return nil
		}
		sess, err := s.openSession(ctx, tx, id, addr, now, c, "password")
		if err != nil {
			return err
		}
		res.Session = sess
		return nil
	})
	if err != nil {
		return LoginResult{}, err
	}
	if loginErr != nil {
		return LoginResult{}, loginErr
	}
	return res, nil
}

func (s *Service) verifyDummy(password string) { s.verify(s.dummy, password) }

// fail counts a failed attempt (committed with the surrounding transaction) and locks the
// account at MaxFailures; it returns the error to give the caller.
func (s *Service) fail(ctx context.Context, tx pgx.Tx, id, email string, failed int, lockedUntil *time.Time, c Client, cause error) (error, error) {
	now := s.cfg.Now()
	if lockedUntil != nil && !now.Before(*lockedUntil) {
		failed = 0 // the previous lock has run out: count afresh
	}
	failed++
	var until *time.Time
	if failed >= s.cfg.MaxFailures {
		u := now.Add(s.cfg.LockoutDuration)
		until = &u
	}
	if _, err := tx.Exec(ctx, `UPDATE admins SET failed_logins = $2, locked_until = $3 WHERE id = $1`, id, failed, until); err != nil {
		return nil, fmt.Errorf("admin: count failure: %w", err)
	}
	if until == nil {
		return cause, nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE admin_id = $1 AND stage = 'totp'`, id); err != nil {
		return nil, fmt.Errorf("admin: lock: %w", err)
	}
	if _, err := s.cfg.Record(ctx, tx, audit.Entry{
		Actor:  audit.Actor{AdminID: id, Email: email, IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID},
		Action: "admin.lockout", TargetType: "admin", TargetID: id, At: now,
		Details: map[string]any{"failures": failed, "locked_until": until.UTC()},
	}); err != nil {
		return nil, err
	}
	s.log.Warn("admin account locked", "admin_id", id, "failures", failed)
	return &LockedError{Until: *until}, nil
}

func (s *Service) openSession(ctx context.Context, tx pgx.Tx, id, email string, now time.Time, c Client, method string) (*Session, error) {
	tok, h, err := newToken()
	if err != nil {
		return nil, err
	}
	exp := now.Add(s.cfg.SessionTTL)
	var sid string
	if err := tx.QueryRow(ctx, `INSERT INTO admin_sessions (admin_id, token_hash, stage, created_at, last_seen_at, expires_at, source_ip, user_agent)
		VALUES ($1, $2, 'session', $3, $3, $4, $5::inet, nullif($6, '')) RETURNING id`, id, h, now, exp, ipArg(c.IP), uaArg(c.UserAgent)).Scan(&sid); err != nil {
		return nil, fmt.Errorf("admin: open session: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE admins SET failed_logins = 0, locked_until = NULL, last_login_at = $2 WHERE id = $1`, id, now); err != nil {
		return nil, fmt.Errorf("admin: open session: %w", err)
	}
	if _, err := s.cfg.Record(ctx, tx, audit.Entry{
		Actor:  audit.Actor{AdminID: id, Email: email, IP: c.IP, UserAgent: c.UserAgent, RequestID: c.RequestID},
		Action: "admin.login", TargetType: "admin_session", TargetID: sid, At: now,
		Details: map[string]any{"method": method},
	}); err != nil {
		return nil, err
	}
	a, err := loadAdmin(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	return &Session{Token: tok, ExpiresAt: exp, Admin: a}, nil
}

// LoginTOTP exchanges a challenge and a valid, unused TOTP code for a session. Wrong codes
// count towards the lockout; the challenge stays usable until it expires or the account locks.
func (s *Service) LoginTOTP(ctx context.Context, challenge, code string, c Client) (*Session, error) {
	h, ok := tokenHash(challenge)
	if !ok {
		return nil, ErrChallengeInvalid
	}
	var sess *Session
	var loginErr error
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var cid, id, email, status string
		var exp time.Time
		var sealed fieldcrypt.Sealed
		var keyID *string
		var lastStep *int64
		var failed int
		var lockedUntil *time.Time
		err := tx.QueryRow(ctx, `SELECT s.id, a.id, a.email, a.status, s.expires_at, a.totp_ciphertext, a.totp_key_id,
				a.totp_last_step, a.failed_logins, a.locked_until
			FROM admin_sessions s JOIN admins a ON a.id = s.admin_id
			WHERE s.token_hash = $1 AND s.stage = 'totp' FOR UPDATE`, h).
			Scan(&cid, &id, &email, &status, &exp, &sealed.Ciphertext, &keyID, &lastStep, &failed, &lockedUntil)
		if errors.Is(err, pgx.ErrNoRows) {
			loginErr = ErrChallengeInvalid
			return nil
		}
		if err != nil {
			return fmt.Errorf("admin: totp login: %w", err)
		}
		now := s.cfg.Now()
		if !now.Before(exp) || status != "active" || keyID == nil {
			loginErr = ErrChallengeInvalid
			_, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE id = $1`, cid)
			return err
		}
		if lockedUntil != nil && now.Before(*lockedUntil) {
			loginErr = &LockedError{Until: *lockedUntil}
			return nil
		}
		sealed.KeyID = *keyID
		secret, err := s.cfg.Keyring.Open(sealed, totpContext(id))
		if err != nil {
			return fmt.Errorf("admin: open totp secret: %w", err)
		}
		step, ok := matchTOTP(secret, code, now)
		switch {
		case !ok:
			loginErr, err = s.fail(ctx, tx, id, email, failed, lockedUntil, c, ErrTOTPInvalid)
			return err
		case lastStep != nil && step <= *lastStep:
			loginErr, err = s.fail(ctx, tx, id, email, failed, lockedUntil, c, ErrTOTPReplay)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE admins SET totp_last_step = $2 WHERE id = $1`, id, step); err != nil {
			return fmt.Errorf("admin: totp login: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE id = $1`, cid); err != nil {
			return fmt.Errorf("admin: totp login: %w", err)
		}
		sess, err = s.openSession(ctx, tx, id, email, now, c, "password+totp")
		return err
	})
	if err != nil {
		return nil, err
	}
	if loginErr != nil {
		return nil, loginErr
	}
	return sess, nil
}

func totpContext(id string) []byte        { return []byte("admins.totp_ciphertext:" + id) }
func totpPendingContext(id string) []byte { return []byte("admins.totp_pending_ciphertext:" + id) }

// touchEvery bounds how often a session's last_seen_at is written.
const touchEvery = time.Minute

// Authenticate resolves a session token to its admin and current permissions.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	h, ok := tokenHash(token)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	var p Principal
	var status string
	var exp, seen time.Time
	var perms []string
	err := s.cfg.Pool.QueryRow(ctx, `SELECT s.id, a.id, a.email, a.display_name, a.status, a.totp_ciphertext IS NOT NULL,
			s.expires_at, s.last_seen_at,
			coalesce((SELECT array_agg(r.name ORDER BY r.name) FROM admin_roles ar JOIN roles r ON r.id = ar.role_id WHERE ar.admin_id = a.id), '{}'),
			coalesce((SELECT array_agg(DISTINCT rp.permission_code) FROM admin_roles ar JOIN role_permissions rp ON rp.role_id = ar.role_id WHERE ar.admin_id = a.id), '{}')
		FROM admin_sessions s JOIN admins a ON a.id = s.admin_id
		WHERE s.token_hash = $1 AND s.stage = 'session'`, h).
		Scan(&p.SessionID, &p.AdminID, &p.Email, &p.DisplayName, &status, &p.TOTPEnabled, &exp, &seen, &p.Roles, &perms)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("admin: authenticate: %w", err)
	}
	now := s.cfg.Now()
	if status != "active" || !now.Before(exp) || now.Sub(seen) >= s.cfg.IdleTimeout {
		return Principal{}, ErrUnauthenticated
	}
	if now.Sub(seen) >= touchEvery {
		if _, err := s.cfg.Pool.Exec(ctx, `UPDATE admin_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`, p.SessionID, now); err != nil {
			return Principal{}, fmt.Errorf("admin: authenticate: %w", err)
		}
	}
	p.Permissions = make(PermissionSet, len(perms))
	for _, c := range perms {
		p.Permissions[Permission(c)] = struct{}{}
	}
	return p, nil
}

// Logout ends p's session.
func (s *Service) Logout(ctx context.Context, p Principal, c Client) error {
	return pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE id = $1 AND admin_id = $2`, p.SessionID, p.AdminID)
		if err != nil {
			return fmt.Errorf("admin: logout: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrUnauthenticated
		}
		_, err = s.cfg.Record(ctx, tx, audit.Entry{Actor: p.actor(c), Action: "admin.logout",
			TargetType: "admin_session", TargetID: p.SessionID, At: s.cfg.Now()})
		return err
	})
}

// StartTOTP begins TOTP enrolment for p: a new pending secret (replacing any earlier pending
// one), returned once. The second factor is active only after ConfirmTOTP.
func (s *Service) StartTOTP(ctx context.Context, p Principal, c Client) (Enrolment, error) {
	secret, err := newTOTPSecret()
	if err != nil {
		return Enrolment{}, err
	}
	sealed, err := s.cfg.Keyring.Seal(secret, totpPendingContext(p.AdminID))
	if err != nil {
		return Enrolment{}, fmt.Errorf("admin: seal totp: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var enabled bool
		if err := tx.QueryRow(ctx, `SELECT totp_ciphertext IS NOT NULL FROM admins WHERE id = $1 FOR UPDATE`, p.AdminID).Scan(&enabled); err != nil {
			return notFound("admin: start totp", err)
		}
		if enabled {
			return ErrTOTPEnabled
		}
		if _, err := tx.Exec(ctx, `UPDATE admins SET totp_pending_ciphertext = $2, totp_pending_key_id = $3, updated_at = $4 WHERE id = $1`,
			p.AdminID, sealed.Ciphertext, sealed.KeyID, s.cfg.Now()); err != nil {
			return fmt.Errorf("admin: start totp: %w", err)
		}
		_, err := s.cfg.Record(ctx, tx, audit.Entry{Actor: p.actor(c), Action: "admin.totp_enrol",
			TargetType: "admin", TargetID: p.AdminID, At: s.cfg.Now()})
		return err
	})
	if err != nil {
		return Enrolment{}, err
	}
	return Enrolment{Secret: b32.EncodeToString(secret), URI: otpauthURI(s.cfg.TOTPIssuer, p.Email, secret)}, nil
}

// ConfirmTOTP activates the pending secret when code is valid for it.
func (s *Service) ConfirmTOTP(ctx context.Context, p Principal, code string, c Client) error {
	return pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var sealed fieldcrypt.Sealed
		var keyID *string
		if err := tx.QueryRow(ctx, `SELECT totp_pending_ciphertext, totp_pending_key_id FROM admins WHERE id = $1 FOR UPDATE`, p.AdminID).
			Scan(&sealed.Ciphertext, &keyID); err != nil {
			return notFound("admin: confirm totp", err)
		}
		if keyID == nil {
			return ErrTOTPNotEnrolling
		}
		sealed.KeyID = *keyID
		secret, err := s.cfg.Keyring.Open(sealed, totpPendingContext(p.AdminID))
		if err != nil {
			return fmt.Errorf("admin: open pending totp: %w", err)
		}
		now := s.cfg.Now()
		step, ok := matchTOTP(secret, code, now)
		if !ok {
			return ErrTOTPInvalid
		}
		active, err := s.cfg.Keyring.Seal(secret, totpContext(p.AdminID))
		if err != nil {
			return fmt.Errorf("admin: seal totp: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE admins SET totp_ciphertext = $2, totp_key_id = $3, totp_last_step = $4,
				totp_pending_ciphertext = NULL, totp_pending_key_id = NULL, updated_at = $5 WHERE id = $1`,
			p.AdminID, active.Ciphertext, active.KeyID, step, now); err != nil {
			return fmt.Errorf("admin: confirm totp: %w", err)
		}
		_, err = s.cfg.Record(ctx, tx, audit.Entry{Actor: p.actor(c), Action: "admin.totp_enable",
			TargetType: "admin", TargetID: p.AdminID, At: now,
			Before: map[string]bool{"totp_enabled": false}, After: map[string]bool{"totp_enabled": true}})
		return err
	})
}

func notFound(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return fmt.Errorf("%s: %w", op, err)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

const adminColumns = `a.id, a.email, a.display_name, a.status, a.totp_ciphertext IS NOT NULL, a.created_at, a.updated_at, a.last_login_at,
	coalesce((SELECT array_agg(r.name ORDER BY r.name) FROM admin_roles ar JOIN roles r ON r.id = ar.role_id WHERE ar.admin_id = a.id), '{}')`

func scanAdmin(row pgx.Row) (Admin, error) {
	var a Admin
	err := row.Scan(&a.ID, &a.Email, &a.DisplayName, &a.Status, &a.TOTPEnabled, &a.CreatedAt, &a.UpdatedAt, &a.LastLoginAt, &a.Roles)
	return a, err
}

func loadAdmin(ctx context.Context, q querier, id string) (Admin, error) {
	a, err := scanAdmin(q.QueryRow(ctx, `SELECT `+adminColumns+` FROM admins a WHERE a.id = $1`, id))
	if err != nil {
		return Admin{}, notFound("admin: load", err)
	}
	return a, nil
}

// GetAdmin returns one admin.
func (s *Service) GetAdmin(ctx context.Context, id string) (Admin, error) {
	if !isUUID(id) {
		return Admin{}, ErrNotFound
	}
	return loadAdmin(ctx, s.cfg.Pool, id)
}

// ListAdmins returns every admin by email.
func (s *Service) ListAdmins(ctx context.Context) ([]Admin, error) {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT `+adminColumns+` FROM admins a ORDER BY a.email`)
	if err != nil {
		return nil, fmt.Errorf("admin: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Admin, error) { return scanAdmin(r) })
	if err != nil {
		return nil, fmt.Errorf("admin: list: %w", err)
	}
	return out, nil
}

// Roles returns the role catalogue with each role's permissions.
func (s *Service) Roles(ctx context.Context) ([]Role, error) {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT r.name, r.description,
		coalesce((SELECT array_agg(rp.permission_code ORDER BY rp.permission_code) FROM role_permissions rp WHERE rp.role_id = r.id), '{}')
		FROM roles r ORDER BY r.name`)
	if err != nil {
		return nil, fmt.Errorf("admin: roles: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Role, error) {
		var role Role
		var perms []string
		if err := r.Scan(&role.Name, &role.Description, &perms); err != nil {
			return Role{}, err
		}
		for _, p := range perms {
			role.Permissions = append(role.Permissions, Permission(p))
		}
		return role, nil
	})
	if err != nil {
		return nil, fmt.Errorf("admin: roles: %w", err)
	}
	return out, nil
}

// actorPermissions re-reads the actor's status and permissions inside tx, so a decision uses
// the rights the actor has now, not those of the request's start.
func actorPermissions(ctx context.Context, tx pgx.Tx, id string) (PermissionSet, error) {
	var status string
	var perms []string
	err := tx.QueryRow(ctx, `SELECT a.status,
		coalesce((SELECT array_agg(DISTINCT rp.permission_code) FROM admin_roles ar JOIN role_permissions rp ON rp.role_id = ar.role_id WHERE ar.admin_id = a.id), '{}')
		FROM admins a WHERE a.id = $1 FOR SHARE`, id).Scan(&status, &perms)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("admin: actor: %w", err)
	}
	if status != "active" {
		return nil, ErrUnauthenticated
	}
	set := make(PermissionSet, len(perms))
	for _, p := range perms {
		set[Permission(p)] = struct{}{}
	}
	return set, nil
}

// rolePermissions resolves role names to ids and the union of their permissions.
func rolePermissions(ctx context.Context, tx pgx.Tx, names []string) ([]int64, PermissionSet, error) {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	set := PermissionSet{}
	ids := make([]int64, 0, len(names))
	for _, n := range names {
		var id int64
		var perms []string
		err := tx.QueryRow(ctx, `SELECT r.id, coalesce((SELECT array_agg(rp.permission_code) FROM role_permissions rp WHERE rp.role_id = r.id), '{}')
			FROM roles r WHERE r.name = $1`, n).Scan(&id, &perms)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, fmt.Errorf("%w: %q", ErrUnknownRole, n)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("admin: roles: %w", err)
		}
		ids = append(ids, id)
		for _, p := range perms {
			set[Permission(p)] = struct{}{}
		}
	}
	return ids, set, nil
}

// lockSuperAdmin serialises every change that could remove the last super_admin.
func lockSuperAdmin(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT id FROM roles WHERE name = $1 FOR UPDATE`, RoleSuperAdmin); err != nil {
		return fmt.Errorf("admin: lock: %w", err)
	}
	return nil
}

func checkSuperAdminRemains(ctx context.Context, tx pgx.Tx) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM admins a JOIN admin_roles ar ON ar.admin_id = a.id
		JOIN roles r ON r.id = ar.role_id WHERE r.name = $1 AND a.status = 'active'`, RoleSuperAdmin).Scan(&n); err != nil {
		return fmt.Errorf("admin: count super admins: %w", err)
	}
	if n == 0 {
		return ErrLastSuperAdmin
	}
	return nil
}

func require(perms PermissionSet, need Permission) error {
	if !perms.Has(need) {
		return &ForbiddenError{Missing: []Permission{need}, Reason: "permission required"}
	}
	return nil
}

// targetWithin locks the target admin and checks the actor holds every permission it has.
// manageOther starts a change p makes to another admin (id) inside tx: the super_admin lock
// first (every role/status change queues there before locking admin rows, so two admins acting
// on each other cannot deadlock), then p must hold admins.manage, not be id, and hold every
// permission id holds. It returns p's permissions and id as it was.
func manageOther(ctx context.Context, tx pgx.Tx, p Principal, id string) (PermissionSet, Admin, error) {
	if err := lockSuperAdmin(ctx, tx); err != nil {
		return nil, Admin{}, err
	}
	actor, err := actorPermissions(ctx, tx, p.AdminID)
	if err != nil {
		return nil, Admin{}, err
	}
	if err := require(actor, PermAdminsManage); err != nil {
		return nil, Admin{}, err
	}
	if id == p.AdminID {
		return nil, Admin{}, ErrSelfChange
	}
	before, err := targetWithin(ctx, tx, actor, id)
	if err != nil {
		return nil, Admin{}, err
	}
	return actor, before, nil
}

func targetWithin(ctx context.Context, tx pgx.Tx, actor PermissionSet, id string) (Admin, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM admins WHERE id = $1 FOR UPDATE`, id); err != nil {
		return Admin{}, fmt.Errorf("admin: lock target: %w", err)
	}
	target, err := loadAdmin(ctx, tx, id)
	if err != nil {
		return Admin{}, err
	}
	_, tperms, err := rolePermissions(ctx, tx, target.Roles)
	if err != nil {
		return Admin{}, err
	}
	if ok, missing := actor.Covers(tperms); !ok {
		return Admin{}, &ForbiddenError{Missing: missing, Reason: "the target admin holds permissions you do not"}
	}
	return target, nil
}

func (s *Service) checkNew(n *NewAdmin) error {
	email, err := normEmail(n.Email)
	if err != nil {
		return err
	}
	n.Email = email
	n.DisplayName = strings.TrimSpace(n.DisplayName)
	if l := utf8.RuneCountInString(n.DisplayName); l < 1 || l > 200 || !utf8.ValidString(n.DisplayName) {
		return invalid("display_name", "must be 1..200 characters")
	}
	return checkPassword(n.Password)
}

// CreateAdmin creates an active admin with roles. The actor needs admins.manage and every
// permission of the roles granted.
func (s *Service) CreateAdmin(ctx context.Context, p Principal, n NewAdmin, c Client) (Admin, error) {
	if err := s.checkNew(&n); err != nil {
		return Admin{}, err
	}
	hash, err := hashPassword(s.cfg.Argon2, n.Password)
	if err != nil {
		return Admin{}, err
	}
	var out Admin
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		actor, err := actorPermissions(ctx, tx, p.AdminID)
		if err != nil {
			return err
		}
		if err := require(actor, PermAdminsManage); err != nil {
			return err
		}
		ids, perms, err := rolePermissions(ctx, tx, n.Roles)
		if err != nil {
			return err
		}
		if ok, missing := actor.Covers(perms); !ok {
			return &ForbiddenError{Missing: missing, Reason: "cannot grant roles with permissions you do not hold"}
		}
		now := s.cfg.Now()
		var id string
		err = tx.QueryRow(ctx, `INSERT INTO admins (email, display_name, password_hash, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4) RETURNING id`, n.Email, n.DisplayName, hash, now).Scan(&id)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return ErrEmailTaken
		}
		if err != nil {
			return fmt.Errorf("admin: create: %w", err)
		}
		if err := grant(ctx, tx, id, ids, p.AdminID, now); err != nil {
			return err
		}
		if out, err = loadAdmin(ctx, tx, id); err != nil {
			return err
		}
		_, err = s.cfg.Record(ctx, tx, audit.Entry{Actor: p.actor(c), Action: "admin.create", TargetType: "admin", TargetID: id, At: now,
			After: adminState(out)})
		return err
	})
	return out, err
}

func grant(ctx context.Context, tx pgx.Tx, id string, roles []int64, by string, now time.Time) error {
	var byArg any
	if by != "" {
		byArg = by
	}
	for _, r := range roles {
		if _, err := tx.Exec(ctx, `INSERT INTO admin_roles (admin_id, role_id, granted_at, granted_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, id, r, now, byArg); err != nil {
			return fmt.Errorf("admin: grant: %w", err)
		}
	}
	return nil
}

type auditState struct {
	Email  string   `json:"email"`
	Name   string   `json:"display_name"`
	Status string   `json:"status"`
	Roles  []string `json:"roles"`
}

func adminState(a Admin) auditState {
	return auditState{Email: a.Email, Name: a.DisplayName, Status: a.Status, Roles: a.Roles}
}

// SetRoles replaces the roles of admin id. See the package comment for the rules.
func (s *Service) SetRoles(ctx context.Context, p Principal, id string, roles []string, c Client) (Admin, error) {
	if !isUUID(id) {
		return Admin{}, ErrNotFound
	}
	var out Admin
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		actor, before, err := manageOther(ctx, tx, p, id)
		if err != nil {
			return err
		}
		ids, perms, err := rolePermissions(ctx, tx, roles)
		if err != nil {
			return err
		}
		if ok, missing := actor.Covers(perms); !ok {
			return &ForbiddenError{Missing: missing, Reason: "cannot grant roles with permissions you do not hold"}
		}
		now := s.cfg.Now()
		if _, err := tx.Exec(ctx, `DELETE FROM admin_roles WHERE admin_id = $1 AND NOT (role_id = ANY($2))`, id, ids); err != nil {
			return fmt.Errorf("admin: set roles: %w", err)
		}
		if err := grant(ctx, tx, id, ids, p.AdminID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE admins SET updated_at = $2 WHERE id = $1`, id, now); err != nil {
			return fmt.Errorf("admin: set roles: %w", err)
		}
		if out, err = loadAdmin(ctx, tx, id); err != nil {
			return err
		}
		if _, err := s.cfg.Record(ctx, tx, audit.Entry{Actor: p.actor(c), Action: "admin.roles_set", TargetType: "admin", TargetID: id, At: now,
			Before: map[string][]string{"roles": before.Roles}, After: map[string][]string{"roles": out.Roles}}); err != nil {
			return err
		}
		return checkSuperAdminRemains(ctx, tx)
	})
	return out, err
}

// Disable disables admin id and ends their sessions. See the package comment for the rules.
func (s *Service) Disable(ctx context.Context, p Principal, id string, c Client) (Admin, error) {
	if !isUUID(id) {
		return Admin{}, ErrNotFound
	}
	var out Admin
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		_, before, err := manageOther(ctx, tx, p, id)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		if _, err := tx.Exec(ctx, `UPDATE admins SET status = 'disabled', updated_at = $2 WHERE id = $1`, id, now); err != nil {
			return fmt.Errorf("admin: disable: %w", err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE admin_id = $1`, id)
		if err != nil {
			return fmt.Errorf("admin: disable: %w", err)
		}
		if out, err = loadAdmin(ctx, tx, id); err != nil {
			return err
		}
		if _, err := s.cfg.Record(ctx, tx, audit.Entry{Actor: p.actor(c), Action: "admin.disable", TargetType: "admin", TargetID: id, At: now,
			Before: map[string]string{"status": before.Status}, After: map[string]string{"status": out.Status},
			Details: map[string]any{"sessions_ended": tag.RowsAffected()}}); err != nil {
			return err
		}
		return checkSuperAdminRemains(ctx, tx)
	})
	return out, err
}

// BootstrapActor is the audit email of changes made by Bootstrap.
const BootstrapActor = "system:bootstrap"

// Bootstrap creates the first admin, with role super_admin, when no admin exists yet; it
// reports whether it created one. Safe to call from several replicas at once.
func (s *Service) Bootstrap(ctx context.Context, email, displayName, password string) (bool, error) {
	n := NewAdmin{Email: email, DisplayName: displayName, Password: password, Roles: []string{RoleSuperAdmin}}
	if err := s.checkNew(&n); err != nil {
		return false, err
	}
	created := false
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		if err := lockSuperAdmin(ctx, tx); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM admins)`).Scan(&exists); err != nil {
			return fmt.Errorf("admin: bootstrap: %w", err)
		}
		if exists {
			return nil
		}
		hash, err := hashPassword(s.cfg.Argon2, n.Password)
		if err != nil {
			return err
		}
		ids, _, err := rolePermissions(ctx, tx, n.Roles)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		var id string
		if err := tx.QueryRow(ctx, `INSERT INTO admins (email, display_name, password_hash, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4) RETURNING id`, n.Email, n.DisplayName, hash, now).Scan(&id); err != nil {
			return fmt.Errorf("admin: bootstrap: %w", err)
		}
		if err := grant(ctx, tx, id, ids, "", now); err != nil {
			return err
		}
		a, err := loadAdmin(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := s.cfg.Record(ctx, tx, audit.Entry{Actor: audit.Actor{Email: BootstrapActor}, Action: "admin.bootstrap",
			TargetType: "admin", TargetID: id, At: now, After: adminState(a)}); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, err
	}
	if created {
		s.log.Info("bootstrap super admin created")
	}
	return created, nil
}

// PurgeExpiredSessions deletes sessions and challenges past their expiry or idle timeout (they
// are already refused; this keeps the table small). Run it periodically.
func (s *Service) PurgeExpiredSessions(ctx context.Context) (int64, error) {
	now := s.cfg.Now()
	tag, err := s.cfg.Pool.Exec(ctx, `DELETE FROM admin_sessions WHERE expires_at <= $1 OR last_seen_at <= $2`,
		now, now.Add(-s.cfg.IdleTimeout))
	if err != nil {
		return 0, fmt.Errorf("admin: purge sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ChangePassword sets p's password after checking the current one (a wrong one counts towards
// the lockout, so a stolen session cannot guess it freely) and ends p's other sessions.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string, c Client) error {
	if err := checkPassword(next); err != nil {
		return err
	}
	hash, err := hashPassword(s.cfg.Argon2, next)
	if err != nil {
		return err
	}
	var callErr error
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var old string
		var failed int
		var lockedUntil *time.Time
		if err := tx.QueryRow(ctx, `SELECT password_hash, failed_logins, locked_until FROM admins WHERE id = $1 AND status = 'active' FOR UPDATE`,
			p.AdminID).Scan(&old, &failed, &lockedUntil); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrUnauthenticated
			}
			return fmt.Errorf("admin: change password: %w", err)
		}
		now := s.cfg.Now()
		if lockedUntil != nil && now.Before(*lockedUntil) {
			callErr = &LockedError{Until: *lockedUntil}
			return nil
		}
		if !s.verify(old, current) {
			callErr, err = s.fail(ctx, tx, p.AdminID, p.Email, failed, lockedUntil, c, ErrInvalidCredentials)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE admins SET password_hash = $2, failed_logins = 0, locked_until = NULL, updated_at = $3 WHERE id = $1`,
			p.AdminID, hash, now); err != nil {
			return fmt.Errorf("admin: change password: %w", err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE admin_id = $1 AND id <> $2`, p.AdminID, p.SessionID)
		if err != nil {
			return fmt.Errorf("admin: change password: %w", err)
		}
		_, err = s.cfg.Record(ctx, tx, audit.Entry{Actor: p.actor(c), Action: "admin.password_change", TargetType: "admin",
			TargetID: p.AdminID, At: now, Details: map[string]any{"other_sessions_ended": tag.RowsAffected()}})
		return err
	})
	if err != nil {
		return err
	}
	return callErr
}

// ResetTOTP removes admin id's second factor (a lost phone): they log in with the password
// alone until they enrol again, and their sessions end. Not on oneself (a stolen session must
// not remove the factor); the same rules as Disable otherwise.
func (s *Service) ResetTOTP(ctx context.Context, p Principal, id string, c Client) (Admin, error) {
	if !isUUID(id) {
		return Admin{}, ErrNotFound
	}
	var out Admin
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		_, before, err := manageOther(ctx, tx, p, id)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		if _, err := tx.Exec(ctx, `UPDATE admins SET totp_ciphertext = NULL, totp_key_id = NULL, totp_last_step = NULL,
				totp_pending_ciphertext = NULL, totp_pending_key_id = NULL, updated_at = $2 WHERE id = $1`, id, now); err != nil {
			return fmt.Errorf("admin: reset totp: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE admin_id = $1`, id); err != nil {
			return fmt.Errorf("admin: reset totp: %w", err)
		}
		if out, err = loadAdmin(ctx, tx, id); err != nil {
			return err
		}
		_, err = s.cfg.Record(ctx, tx, audit.Entry{Actor: p.actor(c), Action: "admin.totp_reset", TargetType: "admin", TargetID: id, At: now,
			Before: map[string]bool{"totp_enabled": before.TOTPEnabled}, After: map[string]bool{"totp_enabled": false}})
		return err
	})
	return out, err
}

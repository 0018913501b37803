package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/google/uuid"
)

// Domain errors; check them with errors.Is.
var (
	ErrEmailTaken         = errors.New("account: email already registered")
	ErrInvalidCredentials = errors.New("account: invalid email or password")
	ErrSuspended          = errors.New("account: rider suspended")
	ErrNotFound           = errors.New("account: rider not found")
	ErrRefreshInvalid     = errors.New("account: refresh token invalid, expired or revoked")
	ErrRefreshReused      = errors.New("account: refresh token reused; session family revoked")
	ErrEmailUnverified    = errors.New("account: identity provider did not verify the email")
	ErrIdentityTaken      = errors.New("account: identity already linked")
)

// Status of a rider.
type Status string

// Rider statuses (riders.status).
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusDeleted   Status = "deleted"
)

// Record is a rider as stored: what Store reads and writes.
type Record struct {
	ID           string
	FirstName    string
	LastName     string
	Email        Email
	PasswordHash string // "" when the rider only signs in through OIDC
	Phone        *fieldcrypt.Sealed
	Status       Status
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// RecordUpdate changes some profile fields; nil pointers leave a field unchanged. PhoneSet with
// a nil Phone clears the phone.
type RecordUpdate struct {
	FirstName *string
	LastName  *string
	PhoneSet  bool
	Phone     *fieldcrypt.Sealed
}

// Session is one refresh token of a family, as stored.
type Session struct {
	ID        string
	RiderID   string
	FamilyID  string
	TokenHash []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	UserAgent string
	IP        netip.Addr // zero when unknown
}

// Identity is an external (OIDC) identity: who the provider says the rider is.
type Identity struct {
	Provider      string
	Subject       string
	Email         string // as the provider sent it; may be empty
	EmailVerified bool
	FirstName     string
	LastName      string
}

// Store persists riders, identities and sessions. Implementations return ErrEmailTaken,
// ErrNotFound, ErrIdentityTaken, ErrRefreshInvalid and ErrRefreshReused as documented.
type Store interface {
	// CreateRider inserts r (ErrEmailTaken if the email exists in any case).
	CreateRider(ctx context.Context, r Record) error
	// RiderByEmail finds a non-deleted rider (ErrNotFound).
	RiderByEmail(ctx context.Context, e Email) (Record, error)
	// RiderByID finds a non-deleted rider (ErrNotFound).
	RiderByID(ctx context.Context, id string) (Record, error)
	// UpdateRider applies u and returns the updated record (ErrNotFound).
	UpdateRider(ctx context.Context, id string, u RecordUpdate, now time.Time) (Record, error)
	// SetPasswordHash replaces the hash (rehash on login after a parameter change).
	SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error
	// AnonymiseRider erases the rider's personal data, identities and sessions (ErrNotFound).
	AnonymiseRider(ctx context.Context, id string, now time.Time) error

	// CreateSession inserts a new session (the first of a family at login).
	CreateSession(ctx context.Context, s Session) error
	// RotateSession atomically marks the session with oldHash rotated and inserts next into
	// the same family and rider (next.RiderID/FamilyID are filled in and returned). A token
	// already rotated revokes its family and returns ErrRefreshReused; an unknown, revoked or
	// expired token (at next.CreatedAt), or one of a rider no longer active, returns
	// ErrRefreshInvalid.
	RotateSession(ctx context.Context, oldHash []byte, next Session) (Session, error)
	// RevokeFamily revokes every session of the family of tokenHash (ErrRefreshInvalid if the
	// token is unknown).
	RevokeFamily(ctx context.Context, tokenHash []byte, now time.Time) error
	// RevokeRiderSessions revokes every live session of the rider (all families).
	RevokeRiderSessions(ctx context.Context, riderID string, now time.Time) error
	// PurgeSessions deletes sessions that expired before before (housekeeping); it returns
	// how many.
	PurgeSessions(ctx context.Context, before time.Time) (int64, error)

	// RiderByIdentity finds the non-deleted rider linked to (provider, subject) (ErrNotFound).
	RiderByIdentity(ctx context.Context, provider, subject string) (Record, error)
	// LinkIdentity links id to an existing rider (ErrIdentityTaken if already linked).
	LinkIdentity(ctx context.Context, riderID string, id Identity, now time.Time) error
	// CreateRiderWithIdentity inserts r and links id in one transaction.
	CreateRiderWithIdentity(ctx context.Context, r Record, id Identity) error
}

// Rider is the profile the API shows.
type Rider struct {
	ID          string
	FirstName   string
	LastName    string
	Email       Email
	Phone       string // E.164 or ""
	Status      Status
	HasPassword bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Tokens are what a login or refresh hands the client.
type Tokens struct {
	Access           string
	AccessExpiresAt  time.Time
	Refresh          string
	RefreshExpiresAt time.Time
}

// Client describes where a request came from (stored with the session).
type Client struct {
	UserAgent string
	IP        netip.Addr
}

// SignUp is the input of Service.SignUp, unparsed.
type SignUp struct {
	FirstName string
	LastName  string
	Email     string
	Password  string
	Phone     string // optional
}

// ProfileUpdate is the input of Service.UpdateProfile, unparsed; nil leaves a field as is and
// an empty Phone removes the phone.
type ProfileUpdate struct {
	FirstName *string
	LastName  *string
	Phone     *string
}

// Config wires a Service.
type Config struct {
	Store   Store
	Hasher  *Hasher
	Tokens  *authtoken.Issuer
	Keyring *fieldcrypt.Keyring
	// RefreshTTL is each refresh token's lifetime (default 30 days).
	RefreshTTL time.Duration
	Now        func() time.Time
	Log        *slog.Logger
}

// DefaultRefreshTTL is the refresh-token lifetime when Config.RefreshTTL is zero.
const DefaultRefreshTTL = 30 * 24 * time.Hour

// Service implements the account use cases. Safe for concurrent use.
type Service struct {
	store   Store
	hasher  *Hasher
	tokens  *authtoken.Issuer
	keyring *fieldcrypt.Keyring
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger
}

// NewService checks cfg and returns a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Hasher == nil || cfg.Tokens == nil || cfg.Keyring == nil {
		return nil, errors.New("account: store, hasher, token issuer and keyring are required")
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.RefreshTTL < time.Minute {
		return nil, fmt.Errorf("account: refresh TTL %v too short", cfg.RefreshTTL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: cfg.Store, hasher: cfg.Hasher, tokens: cfg.Tokens, keyring: cfg.Keyring,
		ttl: cfg.RefreshTTL, now: cfg.Now, log: cfg.Log}, nil
}

// AccessTTL is the lifetime of the access tokens the service issues.
func (s *Service) AccessTTL() time.Duration { return s.tokens.AccessTTL() }

func phoneContext(riderID string) []byte { return []byte("riders.phone_ciphertext:" + riderID) }

func (s *Service) seal(riderID, phone string) (*fieldcrypt.Sealed, error) {
	sealed, err := s.keyring.Seal([]byte(phone), phoneContext(riderID))
	if err != nil {
		return nil, fmt.Errorf("account: seal phone: %w", err)
	}
	return &sealed, nil
}

func (s *Service) toRider(r Record) (Rider, error) {
	out := Rider{ID: r.ID, FirstName: r.FirstName, LastName: r.LastName, Email: r.Email, Status: r.Status,
		HasPassword: r.PasswordHash != "", CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Phone != nil {
		p, err := s.keyring.Open(*r.Phone, phoneContext(r.ID))
		if err != nil {
			return Rider{}, fmt.Errorf("account: open phone of rider %s: %w", r.ID, err)
		}
		out.Phone = string(p)
	}
	return out, nil
}

// SignUp validates in, creates the rider and logs them in.
func (s *Service) SignUp(ctx context.Context, in SignUp, c Client) (Rider, Tokens, error) {
	first, err := ParseName("first_name", in.FirstName)
	if err != nil {
		return Rider{}, Tokens{}, err
	}
	last, err := ParseName("last_name", in.LastName)
	if err != nil {
		return Rider{}, Tokens{}, err
	}
	email, err := ParseEmail(in.Email)
	if err != nil {
		return Rider{}, Tokens{}, err
	}
	if err := CheckPassword(in.Password, email); err != nil {
		return Rider{}, Tokens{}, err
	}
	rec := Record{ID: uuid.NewString(), FirstName: first, LastName: last, Email: email, Status: StatusActive}
	if in.Phone != "" {
		p, err := ParsePhone(in.Phone)
		if err != nil {
			return Rider{}, Tokens{}, err
		}
		if rec.Phone, err = s.seal(rec.ID, p); err != nil {
			return Rider{}, Tokens{}, err
		}
	}
	if rec.PasswordHash, err = s.hasher.Hash(ctx, in.Password); err != nil {
		return Rider{}, Tokens{}, fmt.Errorf("account: sign up: %w", err)
	}
	now := s.now()
	rec.CreatedAt, rec.UpdatedAt = now, now
	if err := s.store.CreateRider(ctx, rec); err != nil {
		return Rider{}, Tokens{}, fmt.Errorf("account: sign up: %w", err)
	}
	s.log.Info("rider signed up", "rider", rec.ID)
	return s.startSession(ctx, rec, c)
}

// LogIn checks email and password. Unknown emails, OIDC-only accounts and wrong passwords all
// return ErrInvalidCredentials after the same work.
func (s *Service) LogIn(ctx context.Context, email Email, password string, c Client) (Rider, Tokens, error) {
	if len(password) > MaxPasswordBytes {
		// Do not hash arbitrary amounts of input; still spend the time of a verification.
		password = password[:MaxPasswordBytes]
	}
	rec, err := s.store.RiderByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) || (err == nil && rec.PasswordHash == "") {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return Rider{}, Tokens{}, fmt.Errorf("account: log in: %w", err)
		}
		return Rider{}, Tokens{}, ErrInvalidCredentials
	}
	if err != nil {
		return Rider{}, Tokens{}, fmt.Errorf("account: log in: %w", err)
	}
	ok, err := s.hasher.Verify(ctx, password, rec.PasswordHash)
	if err != nil {
		return Rider{}, Tokens{}, fmt.Errorf("account: log in rider %s: %w", rec.ID, err)
	}
	if !ok {
		return Rider{}, Tokens{}, ErrInvalidCredentials
	}
	if rec.Status != StatusActive {
		return Rider{}, Tokens{}, ErrSuspended
	}
	if s.hasher.NeedsRehash(rec.PasswordHash) {
		if h, err := s.hasher.Hash(ctx, password); err == nil {
			if err := s.store.SetPasswordHash(ctx, rec.ID, h, s.now()); err != nil {
				s.log.Warn("password rehash not stored", "rider", rec.ID, "err", err)
			}
		}
	}
	s.log.Info("rider logged in", "rider", rec.ID, "method", "password")
	return s.startSession(ctx, rec, c)
}

func (s *Service) startSession(ctx context.Context, rec Record, c Client) (Rider, Tokens, error) {
	r, err := s.toRider(rec)
	if err != nil {
		return Rider{}, Tokens{}, err
	}
	tok, hash, err := authtoken.NewRefreshToken()
	if err != nil {
		return Rider{}, Tokens{}, err
	}
	now := s.now()
	sess := Session{ID: uuid.NewString(), RiderID: rec.ID, FamilyID: uuid.NewString(), TokenHash: hash,
		CreatedAt: now, ExpiresAt: now.Add(s.ttl), UserAgent: clip(c.UserAgent, 512), IP: c.IP}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Rider{}, Tokens{}, fmt.Errorf("account: create session: %w", err)
	}
	access, exp, err := s.tokens.Issue(rec.ID)
	if err != nil {
		return Rider{}, Tokens{}, err
	}
	return r, Tokens{Access: access, AccessExpiresAt: exp, Refresh: tok, RefreshExpiresAt: sess.ExpiresAt}, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Refresh rotates refreshToken and issues new tokens. A reused token revokes its family.
func (s *Service) Refresh(ctx context.Context, refreshToken string, c Client) (Tokens, error) {
	hash, err := authtoken.HashRefreshToken(refreshToken)
	if err != nil {
		return Tokens{}, ErrRefreshInvalid
	}
	tok, newHash, err := authtoken.NewRefreshToken()
	if err != nil {
		return Tokens{}, err
	}
	now := s.now()
	next, err := s.store.RotateSession(ctx, hash, Session{ID: uuid.NewString(), TokenHash: newHash, CreatedAt: now,
		ExpiresAt: now.Add(s.ttl), UserAgent: clip(c.UserAgent, 512), IP: c.IP})
	if errors.Is(err, ErrRefreshReused) {
		s.log.Warn("refresh token reused, session family revoked", "rider", next.RiderID, "family", next.FamilyID)
		return Tokens{}, err
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("account: refresh: %w", err)
	}
	access, exp, err := s.tokens.Issue(next.RiderID)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{Access: access, AccessExpiresAt: exp, Refresh: tok, RefreshExpiresAt: next.ExpiresAt}, nil
}

// LogOut revokes the session family of refreshToken.
func (s *Service) LogOut(ctx context.Context, refreshToken string) error {
	hash, err := authtoken.HashRefreshToken(refreshToken)
	if err != nil {
		return ErrRefreshInvalid
	}
	if err := s.store.RevokeFamily(ctx, hash, s.now()); err != nil {
		return fmt.Errorf("account: log out: %w", err)
	}
	return nil
}

// ChangePassword replaces the rider's password after checking the current one, ends every
// session of the rider (all devices) and starts a new one for the caller. Riders without a
// password (OIDC only) get ErrInvalidCredentials: setting a first password needs a proof of
// email ownership this service does not have yet.
func (s *Service) ChangePassword(ctx context.Context, riderID, current, next string, c Client) (Tokens, error) {
	rec, err := s.store.RiderByID(ctx, riderID)
	if err != nil {
		return Tokens{}, fmt.Errorf("account: change password: %w", err)
	}
	if len(current) > MaxPasswordBytes {
		current = current[:MaxPasswordBytes]
	}
	if rec.PasswordHash == "" {
		if err := s.hasher.VerifyDummy(ctx, current); err != nil {
			return Tokens{}, fmt.Errorf("account: change password: %w", err)
		}
		return Tokens{}, ErrInvalidCredentials
	}
	ok, err := s.hasher.Verify(ctx, current, rec.PasswordHash)
	if err != nil {
		return Tokens{}, fmt.Errorf("account: change password of rider %s: %w", rec.ID, err)
	}
	if !ok {
		return Tokens{}, ErrInvalidCredentials
	}
	if err := CheckPassword(next, rec.Email); err != nil {
		return Tokens{}, err
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return Tokens{}, fmt.Errorf("account: change password: %w", err)
	}
	now := s.now()
	if err := s.store.SetPasswordHash(ctx, rec.ID, hash, now); err != nil {
		return Tokens{}, fmt.Errorf("account: change password: %w", err)
	}
	if err := s.store.RevokeRiderSessions(ctx, rec.ID, now); err != nil {
		return Tokens{}, fmt.Errorf("account: change password: %w", err)
	}
	s.log.Info("password changed, sessions revoked", "rider", rec.ID)
	_, t, err := s.startSession(ctx, rec, c)
	return t, err
}

// PurgeExpiredSessions deletes refresh-token sessions that have expired (an expired token is
// refused whatever its row says, so nothing is lost; reuse detection only matters while a
// token could still be valid). Run it periodically, e.g. hourly.
func (s *Service) PurgeExpiredSessions(ctx context.Context) (int64, error) {
	n, err := s.store.PurgeSessions(ctx, s.now())
	if err != nil {
		return 0, fmt.Errorf("account: purge sessions: %w", err)
	}
	return n, nil
}

// Profile returns the rider with id (ErrNotFound for unknown or deleted riders).
func (s *Service) Profile(ctx context.Context, id string) (Rider, error) {
	rec, err := s.store.RiderByID(ctx, id)
	if err != nil {
		return Rider{}, fmt.Errorf("account: profile: %w", err)
	}
	return s.toRider(rec)
}

// UpdateProfile validates and applies u.
func (s *Service) UpdateProfile(ctx context.Context, id string, u ProfileUpdate) (Rider, error) {
	var ru RecordUpdate
	if u.FirstName != nil {
		v, err := ParseName("first_name", *u.FirstName)
		if err != nil {
			return Rider{}, err
		}
		ru.FirstName = &v
	}
	if u.LastName != nil {
		v, err := ParseName("last_name", *u.LastName)
		if err != nil {
			return Rider{}, err
		}
		ru.LastName = &v
	}
	if u.Phone != nil {
		ru.PhoneSet = true
		if *u.Phone != "" {
			p, err := ParsePhone(*u.Phone)
			if err != nil {
				return Rider{}, err
			}
			if ru.Phone, err = s.seal(id, p); err != nil {
				return Rider{}, err
			}
		}
	}
	rec, err := s.store.UpdateRider(ctx, id, ru, s.now())
	if err != nil {
		return Rider{}, fmt.Errorf("account: update profile: %w", err)
	}
	return s.toRider(rec)
}

// Delete erases the rider's personal data (package comment) and ends every session.
func (s *Service) Delete(ctx context.Context, id string) error {
	if err := s.store.AnonymiseRider(ctx, id, s.now()); err != nil {
		return fmt.Errorf("account: delete: %w", err)
	}
	s.log.Info("rider deleted (anonymised)", "rider", id)
	return nil
}

// LoginWithIdentity logs in the rider behind an external identity, linking or creating an
// account by verified email (package comment). created reports a new account.
func (s *Service) LoginWithIdentity(ctx context.Context, id Identity, c Client) (Rider, Tokens, bool, error) {
	r, t, created, err := s.loginWithIdentity(ctx, id, c)
	if errors.Is(err, ErrEmailTaken) || errors.Is(err, ErrIdentityTaken) {
		// A concurrent first login with the same identity or email won the insert: look again,
		// now finding what it created.
		r, t, created, err = s.loginWithIdentity(ctx, id, c)
	}
	return r, t, created, err
}

func (s *Service) loginWithIdentity(ctx context.Context, id Identity, c Client) (r Rider, t Tokens, created bool, err error) {
	rec, err := s.store.RiderByIdentity(ctx, id.Provider, id.Subject)
	switch {
	case err == nil:
		if rec.Status != StatusActive {
			return Rider{}, Tokens{}, false, ErrSuspended
		}
		s.log.Info("rider logged in", "rider", rec.ID, "method", "oidc", "provider", id.Provider)
		r, t, err = s.startSession(ctx, rec, c)
		return r, t, false, err
	case !errors.Is(err, ErrNotFound):
		return Rider{}, Tokens{}, false, fmt.Errorf("account: identity login: %w", err)
	}
	if !id.EmailVerified {
		return Rider{}, Tokens{}, false, ErrEmailUnverified
	}
	email, err := ParseEmail(id.Email)
	if err != nil {
		return Rider{}, Tokens{}, false, err
	}
	now := s.now()
	rec, err = s.store.RiderByEmail(ctx, email)
	switch {
	case err == nil:
		if rec.Status != StatusActive {
			return Rider{}, Tokens{}, false, ErrSuspended
		}
		if err := s.store.LinkIdentity(ctx, rec.ID, id, now); err != nil {
			return Rider{}, Tokens{}, false, fmt.Errorf("account: link identity: %w", err)
		}
		s.log.Info("identity linked by verified email", "rider", rec.ID, "provider", id.Provider)
		r, t, err = s.startSession(ctx, rec, c)
		return r, t, false, err
	case !errors.Is(err, ErrNotFound):
		return Rider{}, Tokens{}, false, fmt.Errorf("account: identity login: %w", err)
	}
	first, err := ParseName("first_name", orDefault(id.FirstName, "Rider"))
	if err != nil {
		first = "Rider"
	}
	last, err := ParseName("last_name", orDefault(id.LastName, "-"))
	if err != nil {
		last = "-"
	}
	rec = Record{ID: uuid.NewString(), FirstName: first, LastName: last, Email: email, Status: StatusActive,
		CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateRiderWithIdentity(ctx, rec, id); err != nil {
		return Rider{}, Tokens{}, false, fmt.Errorf("account: identity sign up: %w", err)
	}
	s.log.Info("rider signed up", "rider", rec.ID, "method", "oidc", "provider", id.Provider)
	r, t, err = s.startSession(ctx, rec, c)
	return r, t, true, err
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

package technicians

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/downlink"
	"github.com/fleetedge/fleetedge/protocol/link"
)

var (
	// ErrNotFound means no such city or no such technician in the city.
	ErrNotFound = errors.New("technicians: not found")
	// ErrUsernameTaken means the city already has a technician with that username.
	ErrUsernameTaken = errors.New("technicians: username taken")
	// ErrInvalid is the category of input errors (FieldError).
	ErrInvalid = errors.New("technicians: invalid input")
	// ErrWeakPassword is the category of refused passwords (FieldError).
	ErrWeakPassword = errors.New("technicians: weak password")
)

// FieldError says which input is wrong and why; it unwraps to ErrInvalid or ErrWeakPassword.
type FieldError struct {
	Field, Reason string
	err           error
}

func (e *FieldError) Error() string { return fmt.Sprintf("technicians: %s: %s", e.Field, e.Reason) }
func (e *FieldError) Unwrap() error { return e.err }

func invalid(field, reason string) error {
	return &FieldError{Field: field, Reason: reason, err: ErrInvalid}
}

// Status of a technician.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// Technician is a technician's account as admins see it (never the hash).
type Technician struct {
	ID                string
	City              link.CityID
	Username          string
	DisplayName       string
	Status            string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	PasswordChangedAt time.Time
}

// NewTechnician is what creating a technician takes.
type NewTechnician struct {
	Username    string
	DisplayName string
	Password    string
}

// DocState is where a city's technicians document stands.
type DocState struct {
	// Version is the version of the current accounts (0: never changed).
	Version int64
	// PublishedVersion is the highest version put in the city's bucket.
	PublishedVersion int64
	PublishedAt      time.Time
	// PublishError is the last publication failure ("" after a success).
	PublishError string
}

// Pending reports whether the city's gateway may not have the current accounts yet.
func (s DocState) Pending() bool { return s.PublishedVersion < s.Version }

// DB is what the package needs of PostgreSQL (a *pgxpool.Pool as fleetedge_app).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// Hasher hashes passwords (account.Hasher: argon2id PHC, NFC, bounded concurrency).
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
}

// Publisher is what publication needs of the downlink (*downlink.Downlink).
type Publisher interface {
	PublishConfig(ctx context.Context, city link.CityID, doc downlink.Document) (uint64, error)
	CurrentConfig(ctx context.Context, city link.CityID, kind string) (downlink.Published, error)
}

// Defaults of Config.
const (
	DefaultRetryInterval = 10 * time.Second
	DefaultFullCheck     = 5 * time.Minute
	DefaultPushTimeout   = 5 * time.Second
)

// Config wires a Service.
type Config struct {
	DB     DB
	Hasher Hasher
	// Downlink returns the publisher, or nil while there is none (role api, NATS not
	// started yet).
	Downlink func() Publisher
	Log      *slog.Logger
	// RetryInterval: pending documents are retried this often (default 10 s); FullCheck:
	// every city's document is compared with its bucket this often (default 5 min);
	// PushTimeout bounds one city's publication (default 5 s).
	RetryInterval, FullCheck, PushTimeout time.Duration
}

// Service manages technicians and publishes their documents. Safe for concurrent use;
// Run is its one goroutine (the pusher), owned by the caller (cloudsvc Area.Go).
type Service struct {
	cfg  Config
	log  *slog.Logger
	mu   sync.Mutex // serialises this process's publications (build, publish, mark)
	wake chan struct{}
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Hasher == nil || cfg.Downlink == nil {
		return nil, errors.New("technicians: needs a database, a hasher and a downlink getter")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.FullCheck <= 0 {
		cfg.FullCheck = DefaultFullCheck
	}
	if cfg.PushTimeout <= 0 {
		cfg.PushTimeout = DefaultPushTimeout
	}
	return &Service{cfg: cfg, log: cfg.Log.With("component", "technicians"), wake: make(chan struct{}, 1)}, nil
}

func checkUsername(u string) error {
	if !link.ValidTechnicianUsername(u) {
		return invalid("username", "1-64 of a-z 0-9 . _ @ -, starting with a letter or digit")
	}
	return nil
}

func checkDisplayName(n string) (string, error) {
	n = strings.TrimSpace(n)
	if !utf8.ValidString(n) || utf8.RuneCountInString(n) > link.MaxTechnicianName || strings.IndexFunc(n, unicode.IsControl) >= 0 {
		return "", invalid("display_name", fmt.Sprintf("at most %d characters, no control characters", link.MaxTechnicianName))
	}
	return n, nil
}

// checkPassword applies the rider accounts' password rules and refuses the username in it.
func checkPassword(pw, username string) error {
	if err := account.CheckPassword(pw, ""); err != nil {
		var fe *account.FieldError
		reason := "refused"
		if errors.As(err, &fe) {
			reason = fe.Reason
		}
		return &FieldError{Field: "password", Reason: reason, err: ErrWeakPassword}
	}
	if len(username) >= 4 && strings.Contains(strings.ToLower(account.NormalizePassword(pw)), username) {
		return &FieldError{Field: "password", Reason: "must not contain the username", err: ErrWeakPassword}
	}
	return nil
}

func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	h, err := s.cfg.Hasher.Hash(ctx, pw)
	if err != nil {
		return "", fmt.Errorf("technicians: hash password: %w", err)
	}
	return h, nil
}

// change runs fn in a transaction on city's technicians, raises the city's document
// version, commits, and publishes the new document (best effort: what fails stays pending
// for Run). fn records its audit entry in tx.
func (s *Service) change(ctx context.Context, city string, fn func(tx pgx.Tx, cityID int64) error) error {
	code, err := link.ParseCityID(city)
	if err != nil {
		return fmt.Errorf("%w: city %q", ErrNotFound, city)
	}
	var cityID int64
	err = pgx.BeginTxFunc(ctx, s.cfg.DB, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT id FROM cities WHERE code = $1`, string(code)).Scan(&cityID); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: city %q", ErrNotFound, city)
			}
			return fmt.Errorf("technicians: city: %w", err)
		}
		// Bump first: the row lock serialises the city's changes from here to commit.
		if _, err := bump(ctx, tx, cityID); err != nil {
			return err
		}
		return fn(tx, cityID)
	})
	if err != nil {
		return err
	}
	s.pushNow(ctx, code, cityID)
	return nil
}

func isUnique(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == constraint
}

// Create adds an active technician to city with a password (hashed here).
func (s *Service) Create(ctx context.Context, actor audit.Actor, city string, n NewTechnician) (Technician, error) {
	if err := checkUsername(n.Username); err != nil {
		return Technician{}, err
	}
	name, err := checkDisplayName(n.DisplayName)
	if err != nil {
		return Technician{}, err
	}
	if err := checkPassword(n.Password, n.Username); err != nil {
		return Technician{}, err
	}
	h, err := s.hash(ctx, n.Password)
	if err != nil {
		return Technician{}, err
	}
	var t Technician
	err = s.change(ctx, city, func(tx pgx.Tx, cityID int64) error {
		if err := checkRoom(ctx, tx, cityID); err != nil {
			return err
		}
		t, err = scanTechnician(tx.QueryRow(ctx, `INSERT INTO technicians (city_id, username, display_name, password_hash)
			VALUES ($1, $2, $3, $4) RETURNING `+techCols, cityID, n.Username, name, h))
		if isUnique(err, "technicians_city_username_key") {
			return fmt.Errorf("%w: %q in %s", ErrUsernameTaken, n.Username, city)
		}
		if err != nil {
			return fmt.Errorf("technicians: create: %w", err)
		}
		return record(ctx, tx, actor, "technician.create", t, nil, map[string]any{"status": t.Status, "display_name": t.DisplayName})
	})
	return t, err
}

// ResetPassword sets a technician's new password; the gateway ends their sessions when
// the new document arrives.
func (s *Service) ResetPassword(ctx context.Context, actor audit.Actor, city, username, password string) (Technician, error) {
	if err := checkUsername(username); err != nil {
		return Technician{}, fmt.Errorf("%w: technician %q", ErrNotFound, username)
	}
	if err := checkPassword(password, username); err != nil {
		return Technician{}, err
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return Technician{}, err
	}
	var t Technician
	err = s.change(ctx, city, func(tx pgx.Tx, cityID int64) error {
		t, err = scanTechnician(tx.QueryRow(ctx, `UPDATE technicians SET password_hash = $3, updated_at = now(), password_changed_at = now()
			WHERE city_id = $1 AND username = $2 RETURNING `+techCols, cityID, username, h))
		if err != nil {
			return notFound(err, username)
		}
		return record(ctx, tx, actor, "technician.password_reset", t, nil, nil)
	})
	return t, err
}

// SetStatus disables (StatusDisabled) or enables (StatusActive) a technician. Setting the
// status a technician already has changes nothing and records nothing.
func (s *Service) SetStatus(ctx context.Context, actor audit.Actor, city, username, status string) (Technician, error) {
	if status != StatusActive && status != StatusDisabled {
		return Technician{}, invalid("status", "active or disabled")
	}
	if err := checkUsername(username); err != nil {
		return Technician{}, fmt.Errorf("%w: technician %q", ErrNotFound, username)
	}
	var t Technician
	unchanged := false
	err := s.change(ctx, city, func(tx pgx.Tx, cityID int64) error {
		before, err := scanTechnician(tx.QueryRow(ctx, `SELECT `+techCols+` FROM technicians
			WHERE city_id = $1 AND username = $2 FOR UPDATE`, cityID, username))
		if err != nil {
			return notFound(err, username)
		}
		if before.Status == status {
			t, unchanged = before, true
			return errUnchanged
		}
		if status == StatusActive {
			if err := checkRoom(ctx, tx, cityID); err != nil {
				return err
			}
		}
		t, err = scanTechnician(tx.QueryRow(ctx, `UPDATE technicians SET status = $2, updated_at = now()
			WHERE id = $1 RETURNING `+techCols, before.ID, status))
		if err != nil {
			return fmt.Errorf("technicians: set status: %w", err)
		}
		action := "technician.disable"
		if status == StatusActive {
			action = "technician.enable"
		}
		return record(ctx, tx, actor, action, t, map[string]any{"status": before.Status}, map[string]any{"status": t.Status})
	})
	if unchanged && errors.Is(err, errUnchanged) {
		return t, nil
	}
	return t, err
}

// errUnchanged rolls back a change that changes nothing (no version bump, no audit entry).
var errUnchanged = errors.New("unchanged")

// Delete removes a technician (the audit log keeps who they were).
func (s *Service) Delete(ctx context.Context, actor audit.Actor, city, username string) error {
	if err := checkUsername(username); err != nil {
		return fmt.Errorf("%w: technician %q", ErrNotFound, username)
	}
	return s.change(ctx, city, func(tx pgx.Tx, cityID int64) error {
		t, err := scanTechnician(tx.QueryRow(ctx, `DELETE FROM technicians WHERE city_id = $1 AND username = $2 RETURNING `+techCols,
			cityID, username))
		if err != nil {
			return notFound(err, username)
		}
		return record(ctx, tx, actor, "technician.delete", t, map[string]any{"status": t.Status, "display_name": t.DisplayName}, nil)
	})
}

// checkRoom refuses one more active technician beyond link.MaxTechnicians (the document
// would not validate, so the gateway could never get it). Called under the city's lock.
func checkRoom(ctx context.Context, tx pgx.Tx, cityID int64) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM technicians WHERE city_id = $1 AND status = 'active'`, cityID).Scan(&n); err != nil {
		return fmt.Errorf("technicians: count: %w", err)
	}
	if n >= link.MaxTechnicians {
		return invalid("status", fmt.Sprintf("the city already has the maximum of %d active technicians", link.MaxTechnicians))
	}
	return nil
}

func notFound(err error, username string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: technician %q", ErrNotFound, username)
	}
	return fmt.Errorf("technicians: %w", err)
}

// record writes the audit entry of a change in its transaction.
func record(ctx context.Context, tx pgx.Tx, actor audit.Actor, action string, t Technician, before, after map[string]any) error {
	e := audit.Entry{Actor: actor, Action: action, TargetType: "technician", TargetID: t.ID,
		Details: map[string]any{"city": string(t.City), "username": t.Username}}
	if before != nil {
		e.Before = before
	}
	if after != nil {
		e.After = after
	}
	if _, err := audit.Record(ctx, tx, e); err != nil {
		return fmt.Errorf("technicians: %w", err)
	}
	return nil
}

// List returns a city's technicians by username, and where its document stands.
func (s *Service) List(ctx context.Context, city string) ([]Technician, DocState, error) {
	code, err := link.ParseCityID(city)
	if err != nil {
		return nil, DocState{}, fmt.Errorf("%w: city %q", ErrNotFound, city)
	}
	var cityID int64
	if err := s.cfg.DB.QueryRow(ctx, `SELECT id FROM cities WHERE code = $1`, string(code)).Scan(&cityID); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, DocState{}, fmt.Errorf("%w: city %q", ErrNotFound, city)
		}
		return nil, DocState{}, fmt.Errorf("technicians: city: %w", err)
	}
	rows, err := s.cfg.DB.Query(ctx, `SELECT `+techCols+` FROM technicians WHERE city_id = $1 ORDER BY username`, cityID)
	if err != nil {
		return nil, DocState{}, fmt.Errorf("technicians: list: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Technician, error) { return scanTechnician(r) })
	if err != nil {
		return nil, DocState{}, fmt.Errorf("technicians: list: %w", err)
	}
	st, err := docState(ctx, s.cfg.DB, cityID)
	return list, st, err
}

// Get returns one technician of a city.
func (s *Service) Get(ctx context.Context, city, username string) (Technician, error) {
	code, err := link.ParseCityID(city)
	if err != nil || checkUsername(username) != nil {
		return Technician{}, fmt.Errorf("%w: technician %q in %q", ErrNotFound, username, city)
	}
	t, err := scanTechnician(s.cfg.DB.QueryRow(ctx, `SELECT `+techCols+` FROM technicians
		WHERE city_id = (SELECT id FROM cities WHERE code = $1) AND username = $2`, string(code), username))
	if err != nil {
		return Technician{}, notFound(err, username)
	}
	return t, nil
}

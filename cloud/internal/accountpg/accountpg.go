package accountpg

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store implements account.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store over pool (connected as fleetedge_app).
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const riderColumns = `id::text, first_name, last_name, email, coalesce(password_hash, ''), phone_ciphertext,
	phone_key_id, status, created_at, updated_at`

func scanRider(row pgx.Row) (account.Record, error) {
	var r account.Record
	var email, status string
	var ct []byte
	var keyID *string
	if err := row.Scan(&r.ID, &r.FirstName, &r.LastName, &email, &r.PasswordHash, &ct, &keyID, &status, &r.CreatedAt, &r.UpdatedAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return account.Record{}, account.ErrNotFound
		}
		return account.Record{}, err
	}
	r.Email, r.Status = account.Email(email), account.Status(status)
	if keyID != nil {
		r.Phone = &fieldcrypt.Sealed{KeyID: *keyID, Ciphertext: ct}
	}
	return r, nil
}

func isUnique(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}

func isInvalidUUID(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "22P02"
}

func phoneCols(p *fieldcrypt.Sealed) ([]byte, *string) {
	if p == nil {
		return nil, nil
	}
	return p.Ciphertext, &p.KeyID
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertRider(ctx context.Context, q execer, r account.Record) error {
	ct, kid := phoneCols(r.Phone)
	_, err := q.Exec(ctx, `INSERT INTO riders (id, first_name, last_name, email, password_hash, phone_ciphertext,
		phone_key_id, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.ID, r.FirstName, r.LastName, string(r.Email), nullable(r.PasswordHash), ct, kid, string(r.Status), r.CreatedAt, r.UpdatedAt)
	if isUnique(err, "riders_email_lower_key") {
		return account.ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("accountpg: insert rider: %w", err)
	}
	return nil
}

// CreateRider implements account.Store.
func (s *Store) CreateRider(ctx context.Context, r account.Record) error {
	return insertRider(ctx, s.pool, r)
}

// RiderByEmail implements account.Store.
func (s *Store) RiderByEmail(ctx context.Context, e account.Email) (account.Record, error) {
	r, err := scanRider(s.pool.QueryRow(ctx, `SELECT `+riderColumns+` FROM riders
		WHERE lower(email) = lower($1) AND status <> 'deleted'`, string(e)))
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		return r, fmt.Errorf("accountpg: rider by email: %w", err)
	}
	return r, err
}

// RiderByID implements account.Store.
func (s *Store) RiderByID(ctx context.Context, id string) (account.Record, error) {
	r, err := scanRider(s.pool.QueryRow(ctx, `SELECT `+riderColumns+` FROM riders
		WHERE id = $1::uuid AND status <> 'deleted'`, id))
	if isInvalidUUID(err) {
		return r, account.ErrNotFound
	}
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		return r, fmt.Errorf("accountpg: rider by id: %w", err)
	}
	return r, err
}

// UpdateRider implements account.Store.
func (s *Store) UpdateRider(ctx context.Context, id string, u account.RecordUpdate, now time.Time) (account.Record, error) {
	ct, kid := phoneCols(u.Phone)
	r, err := scanRider(s.pool.QueryRow(ctx, `UPDATE riders SET
			first_name = coalesce($2, first_name),
			last_name = coalesce($3, last_name),
			phone_ciphertext = CASE WHEN $4 THEN $5 ELSE phone_ciphertext END,
			phone_key_id = CASE WHEN $4 THEN $6 ELSE phone_key_id END,
			updated_at = $7
		WHERE id = $1::uuid AND status <> 'deleted'
		RETURNING `+riderColumns, id, u.FirstName, u.LastName, u.PhoneSet, ct, kid, now))
	if isInvalidUUID(err) {
		return r, account.ErrNotFound
	}
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		return r, fmt.Errorf("accountpg: update rider: %w", err)
	}
	return r, err
}

// SetPasswordHash implements account.Store.
func (s *Store) SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE riders SET password_hash = $2, updated_at = $3
		WHERE id = $1::uuid AND status <> 'deleted'`, id, hash, now)
	if err != nil {
		return fmt.Errorf("accountpg: set password hash: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return account.ErrNotFound
	}
	return nil
}

// AnonymiseRider implements account.Store: one transaction erases personal data, identities
// and sessions.
func (s *Store) AnonymiseRider(ctx context.Context, id string, now time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE riders SET first_name = 'deleted', last_name = 'deleted',
				email = 'deleted+' || id::text || '@deleted.invalid', password_hash = NULL,
				phone_ciphertext = NULL, phone_key_id = NULL, status = 'deleted', deleted_at = $2, updated_at = $2
			WHERE id = $1::uuid AND status <> 'deleted'`, id, now)
		if isInvalidUUID(err) {
			return account.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("accountpg: anonymise rider: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return account.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `DELETE FROM rider_identities WHERE rider_id = $1::uuid`, id); err != nil {
			return fmt.Errorf("accountpg: delete identities: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM rider_sessions WHERE rider_id = $1::uuid`, id); err != nil {
			return fmt.Errorf("accountpg: delete sessions: %w", err)
		}
		return nil
	})
}

func ipArg(a netip.Addr) *netip.Addr {
	if !a.IsValid() {
		return nil
	}
	return &a
}

func insertSession(ctx context.Context, q execer, se account.Session) error {
	_, err := q.Exec(ctx, `INSERT INTO rider_sessions (id, rider_id, family_id, token_hash, created_at, expires_at, user_agent, ip)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		se.ID, se.RiderID, se.FamilyID, se.TokenHash, se.CreatedAt, se.ExpiresAt, nullable(se.UserAgent), ipArg(se.IP))
	if err != nil {
		return fmt.Errorf("accountpg: insert session: %w", err)
	}
	return nil
}

// CreateSession implements account.Store.
func (s *Store) CreateSession(ctx context.Context, se account.Session) error {
	return insertSession(ctx, s.pool, se)
}

// errReused carries the revoked family out of the transaction so it commits.
var errReused = errors.New("reused")

// RotateSession implements account.Store.
func (s *Store) RotateSession(ctx context.Context, oldHash []byte, next account.Session) (account.Session, error) {
	var reusedRider, reusedFamily string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id, riderID, familyID, status string
		var expires time.Time
		var rotated, revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT s.id::text, s.rider_id::text, s.family_id::text, s.expires_at, s.rotated_at,
				s.revoked_at, r.status
			FROM rider_sessions s JOIN riders r ON r.id = s.rider_id
			WHERE s.token_hash = $1 FOR UPDATE OF s`, oldHash).
			Scan(&id, &riderID, &familyID, &expires, &rotated, &revoked, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return account.ErrRefreshInvalid
		}
		if err != nil {
			return fmt.Errorf("accountpg: rotate session: %w", err)
		}
		if revoked != nil {
			return account.ErrRefreshInvalid
		}
		if rotated != nil {
			if _, err := tx.Exec(ctx, `UPDATE rider_sessions SET revoked_at = $2
				WHERE family_id = $1::uuid AND revoked_at IS NULL`, familyID, next.CreatedAt); err != nil {
				return fmt.Errorf("accountpg: revoke family: %w", err)
			}
			reusedRider, reusedFamily = riderID, familyID
			return nil // commit the revocation
		}
		if !next.CreatedAt.Before(expires) || status != string(account.StatusActive) {
			return account.ErrRefreshInvalid
		}
		if _, err := tx.Exec(ctx, `UPDATE rider_sessions SET rotated_at = $2 WHERE id = $1::uuid`, id, next.CreatedAt); err != nil {
			return fmt.Errorf("accountpg: mark rotated: %w", err)
		}
		next.RiderID, next.FamilyID = riderID, familyID
		return insertSession(ctx, tx, next)
	})
	if err != nil {
		return account.Session{}, err
	}
	if reusedFamily != "" {
		return account.Session{RiderID: reusedRider, FamilyID: reusedFamily}, account.ErrRefreshReused
	}
	return next, nil
}

// RevokeFamily implements account.Store.
func (s *Store) RevokeFamily(ctx context.Context, tokenHash []byte, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE rider_sessions SET revoked_at = $2
		WHERE family_id = (SELECT family_id FROM rider_sessions WHERE token_hash = $1) AND revoked_at IS NULL`, tokenHash, now)
	if err != nil {
		return fmt.Errorf("accountpg: revoke family: %w", err)
	}
	if tag.RowsAffected() == 0 {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rider_sessions WHERE token_hash = $1)`, tokenHash).Scan(&exists); err != nil {
			return fmt.Errorf("accountpg: revoke family: %w", err)
		}
		if !exists {
			return account.ErrRefreshInvalid
		}
	}
	return nil
}

// RevokeRiderSessions implements account.Store.
func (s *Store) RevokeRiderSessions(ctx context.Context, riderID string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE rider_sessions SET revoked_at = $2
		WHERE rider_id = $1::uuid AND revoked_at IS NULL`, riderID, now)
	if isInvalidUUID(err) {
		return account.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("accountpg: revoke rider sessions: %w", err)
	}
	return nil
}

// PurgeSessions implements account.Store.
func (s *Store) PurgeSessions(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM rider_sessions WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("accountpg: purge sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RiderByIdentity implements account.Store.
func (s *Store) RiderByIdentity(ctx context.Context, provider, subject string) (account.Record, error) {
	r, err := scanRider(s.pool.QueryRow(ctx, `SELECT `+riderColumnsQualified+` FROM riders r
		JOIN rider_identities i ON i.rider_id = r.id
		WHERE i.provider = $1 AND i.subject = $2 AND r.status <> 'deleted'`, provider, subject))
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		return r, fmt.Errorf("accountpg: rider by identity: %w", err)
	}
	return r, err
}

const riderColumnsQualified = `r.id::text, r.first_name, r.last_name, r.email, coalesce(r.password_hash, ''),
	r.phone_ciphertext, r.phone_key_id, r.status, r.created_at, r.updated_at`

func insertIdentity(ctx context.Context, q execer, riderID string, id account.Identity, now time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO rider_identities (rider_id, provider, subject, email, email_verified, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, riderID, id.Provider, id.Subject, nullable(id.Email), id.EmailVerified, now)
	if isUnique(err, "") {
		return account.ErrIdentityTaken
	}
	if err != nil {
		return fmt.Errorf("accountpg: insert identity: %w", err)
	}
	return nil
}

// LinkIdentity implements account.Store.
func (s *Store) LinkIdentity(ctx context.Context, riderID string, id account.Identity, now time.Time) error {
	return insertIdentity(ctx, s.pool, riderID, id, now)
}

// CreateRiderWithIdentity implements account.Store.
func (s *Store) CreateRiderWithIdentity(ctx context.Context, r account.Record, id account.Identity) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := insertRider(ctx, tx, r); err != nil {
			return err
		}
		return insertIdentity(ctx, tx, r.ID, id, r.CreatedAt)
	})
}

var _ account.Store = (*Store)(nil)

package payments

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
)

// MaxToken is the longest provider token accepted, in bytes.
const MaxToken = 255

// Method is a rider's payment method as shown to them: never the token.
type Method struct {
	ID        string
	RiderID   string
	Provider  string
	Kind      MethodKind
	Label     string
	Default   bool
	CreatedAt time.Time
}

// tokenContext binds a sealed token to its row (fieldcrypt additional data).
func tokenContext(methodID string) []byte {
	return []byte("payment_methods.token_ciphertext:" + methodID)
}

func validToken(tok string) error {
	if tok == "" || len(tok) > MaxToken {
		return fmt.Errorf("%w: token must be 1..%d bytes", ErrInvalid, MaxToken)
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: token must be printable ASCII", ErrInvalid)
		}
	}
	return nil
}

func validUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && len(s) == 36 && u.String() == s
}

// AddMethod stores a payment method from a provider token (the primary provider describes
// it). The token is sealed with fieldcrypt; only the label is ever shown. The rider's first
// method, or one added with makeDefault, becomes the default.
func (s *Service) AddMethod(ctx context.Context, riderID, token string, makeDefault bool) (Method, error) {
	if !validUUID(riderID) {
		return Method{}, fmt.Errorf("%w: rider id", ErrInvalid)
	}
	if err := validToken(token); err != nil {
		return Method{}, err
	}
	p := s.primary
	info, err := p.DescribeMethod(ctx, token)
	if err != nil {
		return Method{}, fmt.Errorf("payments: add method: %w", err)
	}
	if info.Kind != KindCard && info.Kind != KindWallet && info.Kind != KindBankAccount {
		return Method{}, fmt.Errorf("payments: add method: provider gave kind %q", info.Kind)
	}
	label := info.Label
	if utf8.RuneCountInString(label) > 64 || !utf8.ValidString(label) {
		label = string([]rune(label)[:64])
	}
	m := Method{ID: uuid.NewString(), RiderID: riderID, Provider: p.Name(), Kind: info.Kind, Label: label}
	sealed, err := s.cfg.Keyring.Seal([]byte(token), tokenContext(m.ID))
	if err != nil {
		return Method{}, fmt.Errorf("payments: add method: %w", err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// Lock the rider: the count and the default flag stay right under concurrent adds.
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM riders WHERE id = $1 FOR UPDATE`, riderID).Scan(&status); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: rider", ErrNotFound)
			}
			return err
		}
		var n int
		var hasDefault bool
		if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(bool_or(is_default), false) FROM payment_methods
			WHERE rider_id = $1 AND revoked_at IS NULL`, riderID).Scan(&n, &hasDefault); err != nil {
			return err
		}
		if n >= s.cfg.MaxMethods {
			return fmt.Errorf("%w: at most %d", ErrTooManyMethods, s.cfg.MaxMethods)
		}
		m.Default = makeDefault || !hasDefault
		if m.Default && hasDefault {
			if _, err := tx.Exec(ctx, `UPDATE payment_methods SET is_default = false WHERE rider_id = $1 AND is_default`, riderID); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `INSERT INTO payment_methods (id, rider_id, provider, kind, label, token_ciphertext, token_key_id, is_default)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created_at`,
			m.ID, riderID, m.Provider, string(m.Kind), m.Label, sealed.Ciphertext, sealed.KeyID, m.Default).Scan(&m.CreatedAt)
	})
	if err != nil {
		return Method{}, fmt.Errorf("payments: add method: %w", err)
	}
	return m, nil
}

// ListMethods lists the rider's active methods, the default first.
func (s *Service) ListMethods(ctx context.Context, riderID string) ([]Method, error) {
	if !validUUID(riderID) {
		return nil, fmt.Errorf("%w: rider id", ErrInvalid)
	}
	rows, err := s.pool.Query(ctx, `SELECT id::text, provider, kind, label, is_default, created_at FROM payment_methods
		WHERE rider_id = $1 AND revoked_at IS NULL ORDER BY is_default DESC, created_at, id`, riderID)
	if err != nil {
		return nil, fmt.Errorf("payments: list methods: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Method, error) {
		m := Method{RiderID: riderID}
		var kind string
		err := r.Scan(&m.ID, &m.Provider, &kind, &m.Label, &m.Default, &m.CreatedAt)
		m.Kind = MethodKind(kind)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("payments: list methods: %w", err)
	}
	return out, nil
}

// RemoveMethod revokes one of the rider's methods (payments keep pointing at it). When it was
// the default, the most recently added remaining method becomes the default.
func (s *Service) RemoveMethod(ctx context.Context, riderID, methodID string) error {
	if !validUUID(riderID) || !validUUID(methodID) {
		return fmt.Errorf("%w: payment method", ErrNotFound)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var wasDefault bool
		err := tx.QueryRow(ctx, `UPDATE payment_methods SET revoked_at = now(), is_default = false
			WHERE id = $1 AND rider_id = $2 AND revoked_at IS NULL
			RETURNING (SELECT is_default FROM payment_methods WHERE id = $1)`, methodID, riderID).Scan(&wasDefault)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: payment method", ErrNotFound)
		}
		if err != nil {
			return err
		}
		if wasDefault {
			_, err = tx.Exec(ctx, `UPDATE payment_methods SET is_default = true WHERE id = (
				SELECT id FROM payment_methods WHERE rider_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id LIMIT 1)`, riderID)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("payments: remove method: %w", err)
	}
	return nil
}

// methodToken loads and opens the token of the rider's active method.
func (s *Service) methodToken(ctx context.Context, riderID, methodID string) (Method, string, error) {
	if !validUUID(methodID) {
		return Method{}, "", fmt.Errorf("%w: payment method", ErrNotFound)
	}
	m := Method{ID: methodID, RiderID: riderID}
	var kind string
	var sealed fieldcrypt.Sealed
	err := s.pool.QueryRow(ctx, `SELECT provider, kind, label, is_default, created_at, token_ciphertext, token_key_id
		FROM payment_methods WHERE id = $1 AND rider_id = $2 AND revoked_at IS NULL`, methodID, riderID).
		Scan(&m.Provider, &kind, &m.Label, &m.Default, &m.CreatedAt, &sealed.Ciphertext, &sealed.KeyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return Method{}, "", fmt.Errorf("%w: payment method", ErrNotFound)
	}
	if err != nil {
		return Method{}, "", err
	}
	m.Kind = MethodKind(kind)
	tok, err := s.cfg.Keyring.Open(sealed, tokenContext(methodID))
	if err != nil {
		return Method{}, "", fmt.Errorf("payments: open token of method %s: %w", methodID, err)
	}
	return m, string(tok), nil
}

// RowQuerier is what HasActiveMethod reads through: a pool, a connection or a transaction.
type RowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// HasActiveMethod reports whether the rider holds a payment method that is not removed (for
// areas that accept "balance or a payment method", e.g. the start-ride check).
func HasActiveMethod(ctx context.Context, q RowQuerier, riderID string) (bool, error) {
	if !validUUID(riderID) {
		return false, fmt.Errorf("%w: rider id", ErrInvalid)
	}
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM payment_methods WHERE rider_id = $1 AND revoked_at IS NULL)`, riderID).Scan(&ok); err != nil {
		return false, fmt.Errorf("payments: has method: %w", err)
	}
	return ok, nil
}

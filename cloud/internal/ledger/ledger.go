package ledger

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// AccountKind is the kind of a ledger account.
type AccountKind string

// Account kinds (CHECK constraint of ledger_accounts.kind).
const (
	RiderBalanceAccount     AccountKind = "rider_balance"
	RevenueAccount          AccountKind = "revenue"
	CashAccount             AccountKind = "cash"
	ProviderClearingAccount AccountKind = "provider_clearing"
	PromotionsAccount       AccountKind = "promotions"
	FinesAccount            AccountKind = "fines"
)

// TxKind is the kind of a journal transaction.
type TxKind string

// Transaction kinds (CHECK constraint of ledger_transactions.kind).
const (
	TopUp      TxKind = "top_up"
	RideCharge TxKind = "ride_charge"
	Fine       TxKind = "fine"
	Refund     TxKind = "refund"
	Adjustment TxKind = "adjustment"
	Promotion  TxKind = "promotion"
)

// MaxDescription is the longest description a transaction may carry, in characters.
const MaxDescription = 500

// MaxLines bounds the lines of one transaction (a ride charge has three).
const MaxLines = 64

var (
	// ErrUnbalanced means the lines do not sum to zero (or there are fewer than two).
	ErrUnbalanced = errors.New("ledger: transaction does not balance")
	// ErrAlreadyPosted means the ride was already charged or the payment already credited.
	ErrAlreadyPosted = errors.New("ledger: already posted")
	// ErrInvalid means a transaction or argument the ledger cannot accept (unknown kind, bad
	// currency, malformed id, zero amount, description too long, missing ride/payment, …).
	ErrInvalid = errors.New("ledger: invalid")
	// ErrUnknownReference means an id the database does not know: rider, ride, payment, admin,
	// or an account (or an account of another currency).
	ErrUnknownReference = errors.New("ledger: unknown reference")
)

// Line is one entry: a signed amount in minor units on an account. A transaction's lines sum
// to zero.
type Line struct {
	Account int64
	Amount  int64
}

// Transaction is a journal transaction to post. RideID, PaymentID and AdminID are uuids or ""
// for none. OccurredAt zero means the database's now().
type Transaction struct {
	Kind        TxKind
	Currency    string
	RideID      string
	PaymentID   string
	AdminID     string
	Description string
	OccurredAt  time.Time
	Lines       []Line
}

// Querier is what RiderBalance reads through: a pool, a connection or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// ValidCurrency reports whether c is an ISO 4217-shaped code (three upper-case letters).
func ValidCurrency(c string) bool { return currencyRE.MatchString(c) }

func validKind(k TxKind) bool {
	switch k {
	case TopUp, RideCharge, Fine, Refund, Adjustment, Promotion:
		return true
	}
	return false
}

func validAccountKind(k AccountKind) bool {
	switch k {
	case RiderBalanceAccount, RevenueAccount, CashAccount, ProviderClearingAccount, PromotionsAccount, FinesAccount:
		return true
	}
	return false
}

// optUUID validates an optional uuid: "" is nil.
func optUUID(field, s string) (*string, error) {
	if s == "" {
		return nil, nil
	}
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return nil, fmt.Errorf("%w: %s is not a uuid", ErrInvalid, field)
	}
	v := u.String()
	return &v, nil
}

// Validate checks t without touching the database: kind, currency, ids, description, and
// that there are two or more non-zero lines summing to zero (ErrUnbalanced otherwise).
func (t Transaction) Validate() error {
	if !validKind(t.Kind) {
		return fmt.Errorf("%w: transaction kind %q", ErrInvalid, t.Kind)
	}
	if !ValidCurrency(t.Currency) {
		return fmt.Errorf("%w: currency %q", ErrInvalid, t.Currency)
	}
	for _, f := range []struct{ name, v string }{{"ride id", t.RideID}, {"payment id", t.PaymentID}, {"admin id", t.AdminID}} {
		if _, err := optUUID(f.name, f.v); err != nil {
			return err
		}
	}
	if t.Kind == RideCharge && t.RideID == "" {
		return fmt.Errorf("%w: a ride_charge needs a ride id", ErrInvalid)
	}
	if t.Kind == TopUp && t.PaymentID == "" {
		return fmt.Errorf("%w: a top_up needs a payment id", ErrInvalid)
	}
	if !utf8.ValidString(t.Description) || strings.ContainsRune(t.Description, 0) {
		return fmt.Errorf("%w: description is not valid text", ErrInvalid)
	}
	if n := utf8.RuneCountInString(t.Description); n > MaxDescription {
		return fmt.Errorf("%w: description is %d characters, at most %d", ErrInvalid, n, MaxDescription)
	}
	if len(t.Lines) > MaxLines {
		return fmt.Errorf("%w: %d lines, at most %d", ErrInvalid, len(t.Lines), MaxLines)
	}
	if len(t.Lines) < 2 {
		return fmt.Errorf("%w: %d lines, a transaction needs at least two", ErrUnbalanced, len(t.Lines))
	}
	var sum int64
	for i, l := range t.Lines {
		if l.Account <= 0 {
			return fmt.Errorf("%w: line %d: account %d", ErrInvalid, i, l.Account)
		}
		if l.Amount == 0 {
			return fmt.Errorf("%w: line %d: zero amount", ErrInvalid, i)
		}
		if (l.Amount > 0 && sum > math.MaxInt64-l.Amount) || (l.Amount < 0 && sum < math.MinInt64-l.Amount) {
			return fmt.Errorf("%w: line %d: amounts overflow", ErrInvalid, i)
		}
		sum += l.Amount
	}
	if sum != 0 {
		return fmt.Errorf("%w: lines sum to %d %s", ErrUnbalanced, sum, t.Currency)
	}
	return nil
}

// RiderAccount returns the rider's balance account in currency, creating it if needed, and
// locks its row until tx ends: two transactions that call RiderAccount for the same rider run
// their "check balance, then post" one after the other.
func RiderAccount(ctx context.Context, tx pgx.Tx, riderID, currency string) (int64, error) {
	rid, err := optUUID("rider id", riderID)
	if err != nil || rid == nil {
		return 0, fmt.Errorf("ledger: rider account: %w: rider id %q", ErrInvalid, riderID)
	}
	if !ValidCurrency(currency) {
		return 0, fmt.Errorf("ledger: rider account: %w: currency %q", ErrInvalid, currency)
	}
	// DO UPDATE (a no-op assignment) both returns an existing row and locks it, in one round
	// trip; the app role may update only last_posted_at.
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO ledger_accounts (kind, rider_id, currency) VALUES ('rider_balance', $1, $2)
		ON CONFLICT (rider_id, currency) WHERE rider_id IS NOT NULL
		DO UPDATE SET last_posted_at = ledger_accounts.last_posted_at
		RETURNING id`, *rid, currency).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("ledger: rider account: %w", classify(err))
	}
	return id, nil
}

// SystemAccount returns the operator's account of kind in currency, creating it if needed. It
// does not lock the account.
func SystemAccount(ctx context.Context, tx pgx.Tx, kind AccountKind, currency string) (int64, error) {
	if !validAccountKind(kind) || kind == RiderBalanceAccount {
		return 0, fmt.Errorf("ledger: system account: %w: kind %q", ErrInvalid, kind)
	}
	if !ValidCurrency(currency) {
		return 0, fmt.Errorf("ledger: system account: %w: currency %q", ErrInvalid, currency)
	}
	// A concurrent first creation makes DO NOTHING return no row while this statement's
	// snapshot cannot see the other's row yet; the next statement (READ COMMITTED) can.
	for attempt := 0; attempt < 3; attempt++ {
		var id int64
		err := tx.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO ledger_accounts (kind, currency) VALUES ($1, $2)
				ON CONFLICT (kind, currency) WHERE rider_id IS NULL DO NOTHING RETURNING id)
			SELECT id FROM ins UNION ALL
			SELECT id FROM ledger_accounts WHERE kind = $1 AND currency = $2 AND rider_id IS NULL
			LIMIT 1`, string(kind), currency).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("ledger: system account: %w", classify(err))
		}
	}
	return 0, fmt.Errorf("ledger: system account %s %s: not visible after creation (use READ COMMITTED)", kind, currency)
}

// Post inserts t and its lines in tx and returns the journal transaction id. It validates t
// first (ErrUnbalanced, ErrInvalid) without touching the database. A second ride_charge for a
// ride or top_up for a payment returns ErrAlreadyPosted and leaves tx usable.
func Post(ctx context.Context, tx pgx.Tx, t Transaction) (int64, error) {
	if err := t.Validate(); err != nil {
		return 0, fmt.Errorf("ledger: post: %w", err)
	}
	rideID, _ := optUUID("ride id", t.RideID)
	paymentID, _ := optUUID("payment id", t.PaymentID)
	adminID, _ := optUUID("admin id", t.AdminID)
	var occurred *time.Time
	if !t.OccurredAt.IsZero() {
		occurred = &t.OccurredAt
	}
	accounts := make([]int64, len(t.Lines))
	amounts := make([]int64, len(t.Lines))
	for i, l := range t.Lines {
		accounts[i], amounts[i] = l.Account, l.Amount
	}
	// One round trip. ON CONFLICT DO NOTHING (the only unique indexes besides the identity key
	// are "a ride charged once" and "a payment credited once") returns no row for a repeat
	// instead of aborting the caller's transaction; the entries then insert nothing.
	var id int64
	err := tx.QueryRow(ctx, `
		WITH t AS (
			INSERT INTO ledger_transactions (kind, ride_id, payment_id, created_by_admin, description, occurred_at)
			VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))
			ON CONFLICT DO NOTHING
			RETURNING id),
		e AS (
			INSERT INTO ledger_entries (transaction_id, account_id, currency, amount_minor)
			SELECT t.id, u.account, $7, u.amount FROM t, unnest($8::bigint[], $9::bigint[]) AS u(account, amount))
		SELECT id FROM t`,
		string(t.Kind), rideID, paymentID, adminID, t.Description, occurred, t.Currency, accounts, amounts).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		what := "payment " + t.PaymentID
		if t.Kind == RideCharge {
			what = "ride " + t.RideID
		}
		return 0, fmt.Errorf("ledger: post %s for %s: %w", t.Kind, what, ErrAlreadyPosted)
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: post %s: %w", t.Kind, classify(err))
	}
	return id, nil
}

// Commit commits tx; a commit refused by the ledger's balance trigger is ErrUnbalanced.
func Commit(ctx context.Context, tx pgx.Tx) error {
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("ledger: commit: %w", classify(err))
	}
	return nil
}

// RiderBalance is the sum of the rider's balance account in currency (0 when the rider has no
// account yet). Positive: credit the rider can spend; negative: debt.
func RiderBalance(ctx context.Context, q Querier, riderID, currency string) (int64, error) {
	rid, err := optUUID("rider id", riderID)
	if err != nil || rid == nil {
		return 0, fmt.Errorf("ledger: rider balance: %w: rider id %q", ErrInvalid, riderID)
	}
	if !ValidCurrency(currency) {
		return 0, fmt.Errorf("ledger: rider balance: %w: currency %q", ErrInvalid, currency)
	}
	var bal int64
	err = q.QueryRow(ctx, `
		SELECT coalesce(sum(e.amount_minor), 0)::bigint
		  FROM ledger_accounts a JOIN ledger_entries e ON e.account_id = a.id
		 WHERE a.rider_id = $1 AND a.currency = $2`, *rid, currency).Scan(&bal)
	if err != nil {
		return 0, fmt.Errorf("ledger: rider balance: %w", classify(err))
	}
	return bal, nil
}

// classify maps server errors to the package's sentinels, keeping the original in the chain.
func classify(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case pgErr.ConstraintName == "ledger_transaction_balanced":
		return fmt.Errorf("%w: %w", ErrUnbalanced, err)
	case pgErr.Code == "23503": // foreign_key_violation
		return fmt.Errorf("%w: %w", ErrUnknownReference, err)
	case strings.HasPrefix(pgErr.Code, "22") || pgErr.Code == "23514": // data exception, check
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

package payments

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Status is a payment's state (payments.status).
type Status string

// Payment states. pending → succeeded | failed; a fully refunded top-up becomes refunded.
const (
	StatusPending   Status = "pending"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
	StatusRefunded  Status = "refunded"
)

// Purpose is what a payment is for (payments.purpose).
type Purpose string

// Purposes.
const (
	PurposeTopUp  Purpose = "top_up"
	PurposeRide   Purpose = "ride"
	PurposeFine   Purpose = "fine"
	PurposeRefund Purpose = "refund"
)

// Payment is one row of payments as the area sees it.
type Payment struct {
	ID                string
	RiderID           string
	MethodID          string // "" when none
	Method            string // card, wallet, bank_account, balance, cash, promotion
	Purpose           Purpose
	RideID            string // "" when none
	RefundOf          string // the refunded payment, for purpose refund
	Amount            int64
	Currency          string
	Provider          string
	ProviderReference string
	Status            Status
	FailureReason     string
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

const paymentColumns = `id::text, rider_id::text, coalesce(payment_method_id::text, ''), method, purpose,
	coalesce(ride_id::text, ''), coalesce(refund_of::text, ''), amount_minor, currency, provider,
	coalesce(provider_reference, ''), status, coalesce(failure_reason, ''), created_at, updated_at`

func scanPayment(r pgx.Row) (Payment, error) {
	var p Payment
	var purpose, status string
	err := r.Scan(&p.ID, &p.RiderID, &p.MethodID, &p.Method, &purpose, &p.RideID, &p.RefundOf, &p.Amount, &p.Currency,
		&p.Provider, &p.ProviderReference, &status, &p.FailureReason, &p.CreatedAt, &p.UpdatedAt)
	p.Purpose, p.Status = Purpose(purpose), Status(status)
	return p, err
}

// Querier reads payments: a pool, a connection or a transaction (fleetedge_app or
// fleetedge_reporting).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Filter selects payments for List. Zero fields do not filter; filters combine with AND.
type Filter struct {
	RiderID  string
	Status   Status
	Purpose  Purpose
	Provider string
	Currency string
	// From (inclusive) and To (exclusive) bound created_at.
	From, To time.Time
	// Cursor is Page.Next of the previous page; Limit defaults to 50, at most 500.
	Cursor string
	Limit  int
}

// List limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// Page is one page of payments, newest first; Next is "" on the last page.
type Page struct {
	Payments []Payment
	Next     string
}

const cursorPrefix = "pc1_"

func encodeCursor(p Payment) string {
	return cursorPrefix + base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(p.CreatedAt.UnixMicro(), 10)+"/"+p.ID))
}

func decodeCursor(c string) (time.Time, string, error) {
	rest, ok := strings.CutPrefix(c, cursorPrefix)
	if !ok || len(rest) > 100 {
		return time.Time{}, "", fmt.Errorf("%w: cursor", ErrInvalid)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%w: cursor", ErrInvalid)
	}
	us, id, ok := strings.Cut(string(b), "/")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || !validUUID(id) {
		return time.Time{}, "", fmt.Errorf("%w: cursor", ErrInvalid)
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// List pages payments matching f, newest first (created_at, then id). It is the query behind
// the rider's payment history and the admin lists/exports.
func List(ctx context.Context, q Querier, f Filter) (Page, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit < 0 || limit > MaxListLimit:
		return Page{}, fmt.Errorf("%w: limit must be 1..%d", ErrInvalid, MaxListLimit)
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.RiderID != "" {
		if !validUUID(f.RiderID) {
			return Page{}, fmt.Errorf("%w: rider id", ErrInvalid)
		}
		add("rider_id = ?", f.RiderID)
	}
	if f.Status != "" {
		switch f.Status {
		case StatusPending, StatusSucceeded, StatusFailed, StatusCancelled, StatusRefunded:
		default:
			return Page{}, fmt.Errorf("%w: status %q", ErrInvalid, f.Status)
		}
		add("status = ?", string(f.Status))
	}
	if f.Purpose != "" {
		switch f.Purpose {
		case PurposeTopUp, PurposeRide, PurposeFine, PurposeRefund:
		default:
			return Page{}, fmt.Errorf("%w: purpose %q", ErrInvalid, f.Purpose)
		}
		add("purpose = ?", string(f.Purpose))
	}
	if f.Provider != "" {
		if !providerRE.MatchString(f.Provider) {
			return Page{}, fmt.Errorf("%w: provider", ErrInvalid)
		}
		add("provider = ?", f.Provider)
	}
	if f.Currency != "" {
		if !currencyRE.MatchString(f.Currency) {
			return Page{}, fmt.Errorf("%w: currency", ErrInvalid)
		}
		add("currency = ?", f.Currency)
	}
	if !f.From.IsZero() {
		add("created_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("created_at < ?", f.To)
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return Page{}, err
		}
		args = append(args, at, id)
		where = append(where, fmt.Sprintf("(created_at, id) < ($%d, $%d::uuid)", len(args)-1, len(args)))
	}
	sql := `SELECT ` + paymentColumns + ` FROM payments`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit+1)
	sql += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args))
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return Page{}, fmt.Errorf("payments: list: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Payment, error) { return scanPayment(r) })
	if err != nil {
		return Page{}, fmt.Errorf("payments: list: %w", err)
	}
	var page Page
	if len(ps) > limit {
		ps = ps[:limit]
		page.Next = encodeCursor(ps[limit-1])
	}
	page.Payments = ps
	return page, nil
}

// Get returns one payment; with riderID non-empty, only if it is that rider's.
func (s *Service) Get(ctx context.Context, riderID, paymentID string) (Payment, error) {
	if !validUUID(paymentID) || (riderID != "" && !validUUID(riderID)) {
		return Payment{}, fmt.Errorf("%w: payment", ErrNotFound)
	}
	p, err := scanPayment(s.pool.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE id = $1 AND ($2 = '' OR rider_id::text = $2)`, paymentID, riderID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, fmt.Errorf("%w: payment", ErrNotFound)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("payments: get: %w", err)
	}
	return p, nil
}

package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/audit"
	"github.com/fleetedge/fleetedge/cloud/internal/idempotency"
	"github.com/fleetedge/fleetedge/cloud/internal/ledger"
)

// CodeRefundFailed: the provider refused the refund; the rider's balance was restored.
const CodeRefundFailed = "refund_failed"

type refundPaymentInput struct {
	PaymentID      string `path:"paymentId" maxLength:"64" doc:"The top-up to refund"`
	IdempotencyKey string `header:"Idempotency-Key" doc:"Required: a unique key per operation (e.g. a UUID); a retry with the same key and body returns the first answer and moves money once"`
	Body           struct {
		AmountMinor int64  `json:"amount_minor,omitempty" minimum:"0" doc:"Amount to refund in minor units; 0 or absent: everything not yet refunded"`
		Reason      string `json:"reason" maxLength:"500" doc:"Why (3-500 characters); kept in the ledger and the audit log"`
	}
}

type refundRideInput struct {
	RideID         string `path:"rideId" maxLength:"64" doc:"The ride whose charge to refund"`
	IdempotencyKey string `header:"Idempotency-Key" doc:"Required: a unique key per operation (e.g. a UUID); a retry with the same key and body returns the first answer and moves money once"`
	Body           struct {
		AmountMinor int64  `json:"amount_minor,omitempty" minimum:"0" doc:"Amount to refund in minor units; 0 or absent: everything not yet refunded"`
		Reason      string `json:"reason" maxLength:"500" doc:"Why (3-500 characters); kept in the ledger and the audit log"`
	}
}

type adjustInput struct {
	RiderID        string `path:"riderId" maxLength:"64" doc:"The rider"`
	IdempotencyKey string `header:"Idempotency-Key" doc:"Required: a unique key per operation (e.g. a UUID); a retry with the same key and body returns the first answer and moves money once"`
	Body           struct {
		AmountMinor    int64  `json:"amount_minor" doc:"Signed amount in minor units: positive credits the rider, negative debits"`
		Currency       string `json:"currency" maxLength:"3" doc:"ISO 4217 currency code"`
		Reason         string `json:"reason" maxLength:"500" doc:"Why (3-500 characters, mandatory); kept in the ledger and the audit log"`
		CounterAccount string `json:"counter_account,omitempty" enum:"promotions,cash,revenue,fines" doc:"System account on the other side (default promotions)"`
	}
}

// RideRefundBody is the result of a ride refund.
type RideRefundBody struct {
	RideID              string `json:"ride_id" doc:"The ride"`
	RiderID             string `json:"rider_id" doc:"The rider credited"`
	AmountMinor         int64  `json:"amount_minor" doc:"Amount refunded now, in minor units"`
	Currency            string `json:"currency" doc:"ISO 4217 currency code"`
	ChargedMinor        int64  `json:"charged_minor" doc:"What the ride's charge took"`
	RefundedMinor       int64  `json:"refunded_minor" doc:"Refunded for this ride so far, this refund included"`
	LedgerTransactionID int64  `json:"ledger_transaction_id" doc:"The ledger refund transaction"`
}

// AdjustmentBody is the result of a manual balance adjustment.
type AdjustmentBody struct {
	RiderID             string `json:"rider_id" doc:"The rider"`
	AmountMinor         int64  `json:"amount_minor" doc:"Signed amount posted, in minor units"`
	Currency            string `json:"currency" doc:"ISO 4217 currency code"`
	CounterAccount      string `json:"counter_account" doc:"System account on the other side"`
	BalanceBeforeMinor  int64  `json:"balance_before_minor" doc:"Balance before the adjustment"`
	BalanceAfterMinor   int64  `json:"balance_after_minor" doc:"Balance after the adjustment"`
	LedgerTransactionID int64  `json:"ledger_transaction_id" doc:"The ledger adjustment transaction"`
}

type adminOutput[B any] struct {
	Status int
	Body   B
}

type adminBalanceInput struct {
	RiderID  string `path:"riderId" maxLength:"64" doc:"The rider"`
	Currency string `query:"currency" maxLength:"3" doc:"ISO 4217 currency (default: the operator's currency)"`
}

// RegisterAdmin adds the admin operations (refunds, adjustments, a rider's balance).
func (s *Service) RegisterAdmin(a *adminapi.API) {
	const tag = "money"
	a.DeclareCodes(http.StatusBadRequest, CodeIdempotencyKeyRequired)
	a.DeclareCodes(http.StatusConflict, CodeIdempotencyInProgress, CodeNotRefundable, CodeRefundExceedsPaid, CodeBalanceTooLow, CodeRefundFailed)
	a.DeclareCodes(http.StatusUnprocessableEntity, CodeIdempotencyKeyReused, CodeAmountOutOfRange, CodeUnsupportedCurrency, CodeReasonRequired)
	a.DeclareCodes(http.StatusInternalServerError, CodeProviderOutcomeNotSaved)
	adminapi.Register(a, huma.Operation{
		OperationID: "payment-refund", Method: http.MethodPost, Path: adminapi.Prefix + "/payments/{paymentId}/refunds", Tags: []string{tag},
		Summary: "Refund a card top-up to its payment method",
		Description: "Requires an Idempotency-Key header. Never more than the top-up minus its earlier refunds, nor more than the " +
			"rider's balance (the credit is taken back). 201: refunded; 202: pending at the provider (a webhook settles it); " +
			"409 refund_failed: the provider refused, the balance was restored. Ledger refund and audit entry payment.refund.",
		DefaultStatus: http.StatusCreated,
	}, adminapi.Requires(admin.PermRidersRefund), []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict}, s.refundPaymentH)
	adminapi.Register(a, huma.Operation{
		OperationID: "ride-refund", Method: http.MethodPost, Path: adminapi.Prefix + "/rides/{rideId}/refunds", Tags: []string{tag},
		Summary: "Refund (part of) a ride's charge to the rider's balance",
		Description: "Requires an Idempotency-Key header. Never more than the ride's charge minus earlier refunds. Ledger refund " +
			"(revenue first, then fines) and audit entry ride.refund in one transaction.",
		DefaultStatus: http.StatusCreated,
	}, adminapi.Requires(admin.PermRidersRefund), []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict}, s.refundRideH)
	adminapi.Register(a, huma.Operation{
		OperationID: "rider-balance-adjust", Method: http.MethodPost, Path: adminapi.Prefix + "/riders/{riderId}/balance-adjustments", Tags: []string{tag},
		Summary:       "Credit or debit a rider's balance by hand, with a mandatory reason",
		Description:   "Requires an Idempotency-Key header. Ledger adjustment (created by the admin) and audit entry rider.balance_adjust in one transaction.",
		DefaultStatus: http.StatusCreated,
	}, adminapi.Requires(admin.PermRidersRefund), []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict}, s.adjustH)
	adminapi.Register(a, huma.Operation{
		OperationID: "rider-balance", Method: http.MethodGet, Path: adminapi.Prefix + "/riders/{riderId}/balance", Tags: []string{tag},
		Summary: "A rider's balance (sum of their ledger account)",
	}, adminapi.Requires(admin.PermRidersRead), []int{http.StatusNotFound}, s.adminBalanceH)
}

// adminProblem maps a domain error to the admin API's problem; unexpected errors are logged
// here, once.
func (s *Service) adminProblem(op string, err error) error {
	var p *adminapi.Problem
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, ErrReasonRequired):
		return adminapi.NewProblem(http.StatusUnprocessableEntity, CodeReasonRequired, trimErr(err))
	case errors.Is(err, ErrRefundTooLarge):
		return adminapi.NewProblem(http.StatusConflict, CodeRefundExceedsPaid, trimErr(err))
	case errors.Is(err, ErrNotRefundable):
		return adminapi.NewProblem(http.StatusConflict, CodeNotRefundable, trimErr(err))
	case errors.Is(err, ErrBalanceTooLow):
		return adminapi.NewProblem(http.StatusConflict, CodeBalanceTooLow, trimErr(err))
	case errors.Is(err, ErrNotFound), errors.Is(err, ledger.ErrUnknownReference):
		return adminapi.NewProblem(http.StatusNotFound, adminapi.CodeNotFound, "not found")
	case errors.Is(err, ErrAmountOutOfRange):
		return adminapi.NewProblem(http.StatusUnprocessableEntity, CodeAmountOutOfRange, trimErr(err))
	case errors.Is(err, ErrCurrency):
		return adminapi.NewProblem(http.StatusUnprocessableEntity, CodeUnsupportedCurrency, trimErr(err))
	case errors.Is(err, ErrInvalid), errors.Is(err, ledger.ErrInvalid), errors.Is(err, audit.ErrInvalid):
		return adminapi.NewProblem(http.StatusUnprocessableEntity, adminapi.CodeInvalidRequest, trimErr(err))
	case errors.Is(err, idempotency.ErrInvalidKey):
		return adminapi.NewProblem(http.StatusBadRequest, CodeIdempotencyKeyRequired, trimErr(err))
	case errors.Is(err, idempotency.ErrKeyReused):
		return adminapi.NewProblem(http.StatusUnprocessableEntity, CodeIdempotencyKeyReused, "this Idempotency-Key was used for a different request")
	case errors.Is(err, idempotency.ErrInProgress):
		return adminapi.NewProblem(http.StatusConflict, CodeIdempotencyInProgress, "a request with this Idempotency-Key is still being processed").WithRetryAfter(time.Second)
	case errors.Is(err, errOutcomeNotSaved):
		s.log.Error("provider outcome not saved", "op", op, "err", err)
		return adminapi.NewProblem(http.StatusInternalServerError, CodeProviderOutcomeNotSaved, "the provider was asked but its answer could not be saved; check the payment")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return adminapi.NewProblem(http.StatusServiceUnavailable, adminapi.CodeUnavailable, "the request was cancelled or timed out")
	}
	s.log.Error("request failed", "op", op, "err", err)
	return adminapi.NewProblem(http.StatusInternalServerError, adminapi.CodeInternal, "internal error")
}

// store writes an operation's answer under its Idempotency-Key inside the operation's
// transaction.
type store func(ctx context.Context, tx pgx.Tx, status int, body any) error

// runIdempotent runs an admin money operation under an Idempotency-Key: a replay returns the
// stored answer; work gets a store to save its answer in its own transaction; an error before
// anything was committed releases the key.
func runIdempotent[B any](s *Service, ctx context.Context, op, key string, parts []string, work func(store) (int, any, error)) (*adminOutput[B], error) {
	p, ok := adminapi.PrincipalFrom(ctx)
	if !ok {
		return nil, adminapi.NewProblem(http.StatusUnauthorized, adminapi.CodeUnauthorized, "not logged in")
	}
	if err := idempotency.ValidKey(key); err != nil {
		return nil, s.adminProblem(op, err)
	}
	scope := "admin:" + p.AdminID + ":" + op
	replay, err := s.cfg.Idempotency.Begin(ctx, scope, key, idempotency.HashOf(append([]string{op}, parts...)...))
	if err != nil {
		return nil, s.adminProblem(op, err)
	}
	if replay != nil {
		if replay.Status >= 400 {
			var pr adminapi.Problem
			if err := json.Unmarshal(replay.Body, &pr); err != nil {
				return nil, s.adminProblem(op, fmt.Errorf("stored problem: %w", err))
			}
			return nil, &pr
		}
		out := &adminOutput[B]{Status: replay.Status}
		if err := json.Unmarshal(replay.Body, &out.Body); err != nil {
			return nil, s.adminProblem(op, fmt.Errorf("stored answer: %w", err))
		}
		return out, nil
	}
	status, body, err := work(func(ctx context.Context, tx pgx.Tx, status int, body any) error {
		return s.cfg.Idempotency.Complete(ctx, tx, scope, key, status, body)
	})
	if err != nil {
		if !errors.Is(err, errOutcomeNotSaved) {
			if rerr := s.cfg.Idempotency.Release(context.WithoutCancel(ctx), scope, key); rerr != nil {
				s.log.Error("release idempotency key", "err", rerr)
			}
		}
		return nil, s.adminProblem(op, err)
	}
	if pr, ok := body.(*adminapi.Problem); ok {
		return nil, pr
	}
	return &adminOutput[B]{Status: status, Body: body.(B)}, nil
}

// actor is the audit actor of the request (runIdempotent has checked there is one).
func actor(ctx context.Context) audit.Actor {
	a, _ := adminapi.Actor(ctx)
	return a
}

func refundAnswer(p Payment) (int, any) {
	switch p.Status {
	case StatusSucceeded:
		return http.StatusCreated, NewPaymentBody(p)
	case StatusFailed:
		pr := adminapi.NewProblem(http.StatusConflict, CodeRefundFailed, "the provider refused the refund ("+p.FailureReason+"); the rider's balance was restored")
		pr.Instance = adminapi.Prefix + "/payments/" + p.ID
		return http.StatusConflict, pr
	}
	return http.StatusAccepted, NewPaymentBody(p)
}

func (s *Service) refundPaymentH(ctx context.Context, in *refundPaymentInput) (*adminOutput[PaymentBody], error) {
	parts := []string{in.PaymentID, strconv.FormatInt(in.Body.AmountMinor, 10), in.Body.Reason}
	return runIdempotent[PaymentBody](s, ctx, "payment_refund", in.IdempotencyKey, parts, func(st store) (int, any, error) {
		p, err := s.RefundPayment(ctx, actor(ctx), PaymentRefundRequest{PaymentID: in.PaymentID, Amount: in.Body.AmountMinor, Reason: in.Body.Reason},
			func(ctx context.Context, tx pgx.Tx, p Payment) error {
				status, body := refundAnswer(p)
				return st(ctx, tx, status, body)
			})
		if err != nil {
			return 0, nil, err
		}
		status, body := refundAnswer(p)
		return status, body, nil
	})
}

func rideRefundBody(r RideRefund) RideRefundBody {
	return RideRefundBody{RideID: r.RideID, RiderID: r.RiderID, AmountMinor: r.Amount, Currency: r.Currency, ChargedMinor: r.Charged,
		RefundedMinor: r.Refunded, LedgerTransactionID: r.LedgerTransactionID}
}

func (s *Service) refundRideH(ctx context.Context, in *refundRideInput) (*adminOutput[RideRefundBody], error) {
	parts := []string{in.RideID, strconv.FormatInt(in.Body.AmountMinor, 10), in.Body.Reason}
	return runIdempotent[RideRefundBody](s, ctx, "ride_refund", in.IdempotencyKey, parts, func(st store) (int, any, error) {
		r, err := s.RefundRide(ctx, actor(ctx), RideRefundRequest{RideID: in.RideID, Amount: in.Body.AmountMinor, Reason: in.Body.Reason},
			func(ctx context.Context, tx pgx.Tx, r RideRefund) error {
				return st(ctx, tx, http.StatusCreated, rideRefundBody(r))
			})
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, rideRefundBody(r), nil
	})
}

func adjustmentBody(a Adjustment) AdjustmentBody {
	return AdjustmentBody{RiderID: a.RiderID, AmountMinor: a.Amount, Currency: a.Currency, CounterAccount: a.Counter,
		BalanceBeforeMinor: a.BalanceBefore, BalanceAfterMinor: a.BalanceAfter, LedgerTransactionID: a.LedgerTransactionID}
}

func (s *Service) adjustH(ctx context.Context, in *adjustInput) (*adminOutput[AdjustmentBody], error) {
	b := in.Body
	parts := []string{in.RiderID, strconv.FormatInt(b.AmountMinor, 10), b.Currency, b.Reason, b.CounterAccount}
	return runIdempotent[AdjustmentBody](s, ctx, "balance_adjust", in.IdempotencyKey, parts, func(st store) (int, any, error) {
		a, err := s.Adjust(ctx, actor(ctx), AdjustmentRequest{RiderID: in.RiderID, Amount: b.AmountMinor, Currency: b.Currency,
			Reason: b.Reason, Counter: b.CounterAccount},
			func(ctx context.Context, tx pgx.Tx, a Adjustment) error {
				return st(ctx, tx, http.StatusCreated, adjustmentBody(a))
			})
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, adjustmentBody(a), nil
	})
}

type adminBalanceOutput struct{ Body BalanceBody }

func (s *Service) adminBalanceH(ctx context.Context, in *adminBalanceInput) (*adminBalanceOutput, error) {
	cur := in.Currency
	if cur == "" {
		cur = s.DefaultCurrency()
	}
	if !validUUID(in.RiderID) {
		return nil, adminapi.NewProblem(http.StatusNotFound, adminapi.CodeNotFound, "no such rider")
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM riders WHERE id = $1)`, in.RiderID).Scan(&exists); err != nil {
		return nil, s.adminProblem("rider_balance", err)
	}
	if !exists {
		return nil, adminapi.NewProblem(http.StatusNotFound, adminapi.CodeNotFound, "no such rider")
	}
	b, err := s.Balance(ctx, in.RiderID, cur)
	if err != nil {
		return nil, s.adminProblem("rider_balance", err)
	}
	return &adminBalanceOutput{Body: BalanceBody{Currency: cur, BalanceMinor: b}}, nil
}

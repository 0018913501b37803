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

	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/idempotency"
	"github.com/fleetedge/fleetedge/cloud/internal/ledger"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
)

const (
	maxBody        = 16 << 10
	maxWebhookBody = 64 << 10
)

// MethodBody is a payment method as the rider API shows it (never the token).
type MethodBody struct {
	ID        string    `json:"id" doc:"Payment method id"`
	Provider  string    `json:"provider" doc:"Payment provider that holds the method"`
	Kind      string    `json:"kind" enum:"card,wallet,bank_account" doc:"Kind of method"`
	Label     string    `json:"label" doc:"Display text, e.g. \"Visa ending 4242\""`
	IsDefault bool      `json:"is_default" doc:"Whether top-ups use it when none is named"`
	CreatedAt time.Time `json:"created_at" doc:"When it was added"`
}

func methodBody(m Method) MethodBody {
	return MethodBody{ID: m.ID, Provider: m.Provider, Kind: string(m.Kind), Label: m.Label, IsDefault: m.Default, CreatedAt: m.CreatedAt}
}

// PaymentBody is a payment as the rider and admin APIs show it.
type PaymentBody struct {
	ID                string    `json:"id" doc:"Payment id"`
	RiderID           string    `json:"rider_id" doc:"Rider the payment belongs to"`
	Status            string    `json:"status" enum:"pending,succeeded,failed,cancelled,refunded" doc:"pending until the provider answers; refunded once fully refunded"`
	Purpose           string    `json:"purpose" enum:"top_up,ride,fine,refund" doc:"What the payment is for"`
	Method            string    `json:"method" enum:"card,wallet,bank_account,balance,cash,promotion" doc:"How it was paid"`
	AmountMinor       int64     `json:"amount_minor" doc:"Amount in minor units of currency (cents)"`
	Currency          string    `json:"currency" doc:"ISO 4217 currency code"`
	Provider          string    `json:"provider" doc:"Payment provider"`
	ProviderReference string    `json:"provider_reference,omitempty" doc:"The provider's reference, once known"`
	PaymentMethodID   string    `json:"payment_method_id,omitempty" doc:"Payment method charged or refunded"`
	RideID            string    `json:"ride_id,omitempty" doc:"Ride the payment is for"`
	RefundOf          string    `json:"refund_of,omitempty" doc:"For refunds: the payment refunded"`
	FailureReason     string    `json:"failure_reason,omitempty" doc:"Why it failed (provider code and message)"`
	CreatedAt         time.Time `json:"created_at" doc:"When it was created"`
	UpdatedAt         time.Time `json:"updated_at" doc:"When its status last changed"`
}

// NewPaymentBody converts a Payment to its API body.
func NewPaymentBody(p Payment) PaymentBody {
	return PaymentBody{ID: p.ID, RiderID: p.RiderID, Status: string(p.Status), Purpose: string(p.Purpose), Method: p.Method,
		AmountMinor: p.Amount, Currency: p.Currency, Provider: p.Provider, ProviderReference: p.ProviderReference,
		PaymentMethodID: p.MethodID, RideID: p.RideID, RefundOf: p.RefundOf, FailureReason: p.FailureReason,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

type addMethodInput struct {
	Body struct {
		Token       string `json:"token" minLength:"1" maxLength:"255" doc:"Payment-method token from the provider's SDK (sandbox: tok_visa, tok_mastercard, tok_declined, tok_insufficient_funds, tok_pending, tok_pending_declined). Never a card number."`
		MakeDefault bool   `json:"make_default,omitempty" doc:"Make it the default method (the first method always is)"`
	}
}

type methodOutput struct{ Body MethodBody }

type methodListOutput struct {
	Body struct {
		Methods []MethodBody `json:"methods" doc:"Active payment methods, the default first"`
	}
}

type methodIDInput struct {
	MethodID string `path:"methodId" maxLength:"64" doc:"Payment method id"`
}

type topUpInput struct {
	IdempotencyKey string `header:"Idempotency-Key" doc:"Required: a unique key per top-up (e.g. a UUID); a retry with the same key and body returns the first answer and charges once"`
	Body           struct {
		PaymentMethodID string `json:"payment_method_id,omitempty" maxLength:"64" doc:"Method to charge (default: the rider's default method)"`
		AmountMinor     int64  `json:"amount_minor" doc:"Amount in minor units (cents)"`
		Currency        string `json:"currency" maxLength:"3" doc:"ISO 4217 currency code"`
	}
}

type paymentOutput struct {
	Status int
	Body   PaymentBody
}

type balanceInput struct {
	Currency string `query:"currency" maxLength:"3" doc:"ISO 4217 currency (default: the operator's currency)"`
}

// BalanceBody is a rider's balance.
type BalanceBody struct {
	Currency     string `json:"currency" doc:"ISO 4217 currency code"`
	BalanceMinor int64  `json:"balance_minor" doc:"Balance in minor units: positive is credit, negative is debt"`
}

type balanceOutput struct{ Body BalanceBody }

type historyInput struct {
	Cursor string `query:"cursor" maxLength:"200" doc:"next from the previous page"`
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50)"`
}

// PaymentPageBody is a page of payments, newest first.
type PaymentPageBody struct {
	Payments []PaymentBody `json:"payments" doc:"Payments, newest first"`
	Next     string        `json:"next,omitempty" doc:"Cursor of the next page; absent on the last page"`
}

type historyOutput struct{ Body PaymentPageBody }

type paymentIDInput struct {
	PaymentID string `path:"paymentId" maxLength:"64" doc:"Payment id"`
}

type webhookInput struct {
	Provider string `path:"provider" maxLength:"64" doc:"Provider name"`
	RawBody  []byte `contentType:"application/json"`
	header   http.Header
}

// Resolve keeps every request header: the signature header's name is the provider's.
func (in *webhookInput) Resolve(ctx huma.Context) []error {
	in.header = http.Header{}
	ctx.EachHeader(func(name, value string) { in.header.Add(name, value) })
	return nil
}

type webhookOutput struct {
	Body struct {
		Outcome string `json:"outcome" enum:"applied,unchanged,ignored,duplicate" doc:"What the event did"`
	}
}

// RegisterRider adds the rider operations to the rider API (huma).
func (s *Service) RegisterRider(api huma.API) {
	sec := riderapi.BearerSecurity
	huma.Register(api, huma.Operation{
		OperationID: "payment-method-add", Method: http.MethodPost, Path: "/v1/payment-methods", Tags: []string{"payments"},
		Summary: "Add a payment method from a provider token", DefaultStatus: http.StatusCreated, Security: sec, MaxBodyBytes: maxBody,
		Errors: []int{http.StatusUnauthorized, http.StatusConflict, http.StatusUnprocessableEntity},
	}, s.addMethod)
	huma.Register(api, huma.Operation{
		OperationID: "payment-method-list", Method: http.MethodGet, Path: "/v1/payment-methods", Tags: []string{"payments"},
		Summary: "List the rider's payment methods", Security: sec, Errors: []int{http.StatusUnauthorized},
	}, s.listMethods)
	huma.Register(api, huma.Operation{
		OperationID: "payment-method-remove", Method: http.MethodDelete, Path: "/v1/payment-methods/{methodId}", Tags: []string{"payments"},
		Summary: "Remove a payment method", DefaultStatus: http.StatusNoContent, Security: sec,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, s.removeMethod)
	huma.Register(api, huma.Operation{
		OperationID: "top-up", Method: http.MethodPost, Path: "/v1/top-ups", Tags: []string{"payments"},
		Summary: "Top up the balance by charging a payment method",
		Description: "Requires an Idempotency-Key header. 201: succeeded, the balance is credited. 202: pending, a provider " +
			"webhook settles it (poll GET /v1/payments/{id}). 402 payment_declined: failed, nothing credited. A retry with the " +
			"same key and body returns the first answer; another body with that key is 422 idempotency_key_reused; while the " +
			"first runs, 409 idempotency_in_progress.",
		DefaultStatus: http.StatusCreated, Security: sec, MaxBodyBytes: maxBody,
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusPaymentRequired, http.StatusNotFound,
			http.StatusConflict, http.StatusUnprocessableEntity},
	}, s.topUp)
	huma.Register(api, huma.Operation{
		OperationID: "balance", Method: http.MethodGet, Path: "/v1/balance", Tags: []string{"payments"},
		Summary: "The rider's balance", Security: sec, Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, s.balance)
	huma.Register(api, huma.Operation{
		OperationID: "payment-history", Method: http.MethodGet, Path: "/v1/payments", Tags: []string{"payments"},
		Summary: "The rider's payments, newest first (paged)", Security: sec,
		Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, s.history)
	huma.Register(api, huma.Operation{
		OperationID: "payment-get", Method: http.MethodGet, Path: "/v1/payments/{paymentId}", Tags: []string{"payments"},
		Summary: "One of the rider's payments", Security: sec, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, s.getPayment)
	huma.Register(api, huma.Operation{
		OperationID: "payment-webhook", Method: http.MethodPost, Path: "/v1/payments/webhooks/{provider}", Tags: []string{"payments"},
		Summary:      "Payment provider webhook (signature-checked; each event applied once)",
		Description:  "Called by the payment provider, not by riders. 401 invalid_signature when the signature is missing, wrong or stale.",
		MaxBodyBytes: maxWebhookBody, SkipValidateBody: true, // the provider verifies the exact bytes
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound},
	}, s.webhook)
}

func rider(ctx context.Context) (string, error) {
	id, ok := riderapi.RiderID(ctx)
	if !ok {
		return "", riderapi.NewProblem(http.StatusUnauthorized, riderapi.CodeUnauthorized, "not logged in")
	}
	return id, nil
}

// riderProblem maps a domain error to the rider API's problem: the one place for this area.
// Unexpected errors are logged here, once.
func (s *Service) riderProblem(op string, err error) error {
	var p *riderapi.Problem
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, ErrInvalidToken):
		return riderapi.NewProblem(http.StatusUnprocessableEntity, CodeInvalidPaymentMethod, "the payment provider does not accept this token")
	case errors.Is(err, ErrTooManyMethods):
		return riderapi.NewProblem(http.StatusConflict, CodeTooManyPaymentMethods, "too many payment methods; remove one first")
	case errors.Is(err, ErrNotFound) && op == "top_up":
		return riderapi.NewProblem(http.StatusNotFound, CodePaymentMethodNotFound, "no such payment method")
	case errors.Is(err, ErrNotFound):
		return riderapi.NewProblem(http.StatusNotFound, riderapi.CodeNotFound, "not found")
	case errors.Is(err, ErrAmountOutOfRange):
		return riderapi.NewProblem(http.StatusUnprocessableEntity, CodeAmountOutOfRange, trimErr(err))
	case errors.Is(err, ErrCurrency):
		return riderapi.NewProblem(http.StatusUnprocessableEntity, CodeUnsupportedCurrency, trimErr(err))
	case errors.Is(err, ErrMethodUnavailable):
		return riderapi.NewProblem(http.StatusUnprocessableEntity, CodePaymentMethodUnusable, "this payment method's provider is no longer available")
	case errors.Is(err, ErrInvalid), errors.Is(err, ledger.ErrInvalid):
		return riderapi.NewProblem(http.StatusUnprocessableEntity, riderapi.CodeInvalidRequest, trimErr(err))
	case errors.Is(err, ErrUnknownProvider):
		return riderapi.NewProblem(http.StatusNotFound, CodeUnknownProvider, "no such payment provider")
	case errors.Is(err, ErrBadSignature):
		return riderapi.NewProblem(http.StatusUnauthorized, CodeInvalidSignature, "webhook signature missing, invalid or stale")
	case errors.Is(err, ErrMalformedEvent):
		return riderapi.NewProblem(http.StatusBadRequest, CodeMalformedEvent, "webhook event malformed")
	case errors.Is(err, idempotency.ErrInvalidKey):
		return riderapi.NewProblem(http.StatusBadRequest, CodeIdempotencyKeyRequired, trimErr(err))
	case errors.Is(err, idempotency.ErrKeyReused):
		return riderapi.NewProblem(http.StatusUnprocessableEntity, CodeIdempotencyKeyReused, "this Idempotency-Key was used for a different request")
	case errors.Is(err, idempotency.ErrInProgress):
		return riderapi.NewProblem(http.StatusConflict, CodeIdempotencyInProgress, "a request with this Idempotency-Key is still being processed").WithRetryAfter(time.Second)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return riderapi.NewProblem(http.StatusServiceUnavailable, "unavailable", "the request was cancelled or timed out")
	case errors.Is(err, fieldcrypt.ErrUnknownKeyID), errors.Is(err, fieldcrypt.ErrDecrypt):
		s.log.Error("payment method token cannot be opened", "op", op, "err", err)
		return riderapi.NewProblem(http.StatusUnprocessableEntity, CodePaymentMethodUnusable, "this payment method can no longer be used; add it again")
	}
	s.log.Error("request failed", "op", op, "err", err)
	return riderapi.NewProblem(http.StatusInternalServerError, riderapi.CodeInternal, "internal error")
}

// trimErr is an error's text for a problem detail (our own messages, no internals).
func trimErr(err error) string {
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

func (s *Service) addMethod(ctx context.Context, in *addMethodInput) (*methodOutput, error) {
	rid, err := rider(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.AddMethod(ctx, rid, in.Body.Token, in.Body.MakeDefault)
	if err != nil {
		return nil, s.riderProblem("add_method", err)
	}
	return &methodOutput{Body: methodBody(m)}, nil
}

func (s *Service) listMethods(ctx context.Context, _ *struct{}) (*methodListOutput, error) {
	rid, err := rider(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := s.ListMethods(ctx, rid)
	if err != nil {
		return nil, s.riderProblem("list_methods", err)
	}
	out := &methodListOutput{}
	out.Body.Methods = make([]MethodBody, 0, len(ms))
	for _, m := range ms {
		out.Body.Methods = append(out.Body.Methods, methodBody(m))
	}
	return out, nil
}

func (s *Service) removeMethod(ctx context.Context, in *methodIDInput) (*struct{}, error) {
	rid, err := rider(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.RemoveMethod(ctx, rid, in.MethodID); err != nil {
		return nil, s.riderProblem("remove_method", err)
	}
	return nil, nil
}

// topUpResponse is the HTTP answer for a top-up's payment: stored under the Idempotency-Key.
func topUpResponse(p Payment) (int, any) {
	switch p.Status {
	case StatusSucceeded:
		return http.StatusCreated, NewPaymentBody(p)
	case StatusFailed:
		pr := riderapi.NewProblem(http.StatusPaymentRequired, CodePaymentDeclined, "the payment was declined: "+p.FailureReason)
		pr.Instance = "/v1/payments/" + p.ID
		return http.StatusPaymentRequired, pr
	}
	return http.StatusAccepted, NewPaymentBody(p)
}

func (s *Service) topUp(ctx context.Context, in *topUpInput) (*paymentOutput, error) {
	rid, err := rider(ctx)
	if err != nil {
		return nil, err
	}
	key := in.IdempotencyKey
	if err := idempotency.ValidKey(key); err != nil {
		return nil, s.riderProblem("top_up", err)
	}
	methodID := in.Body.PaymentMethodID
	if methodID == "" {
		ms, err := s.ListMethods(ctx, rid)
		if err != nil {
			return nil, s.riderProblem("top_up", err)
		}
		if len(ms) == 0 || !ms[0].Default {
			return nil, riderapi.NewProblem(http.StatusNotFound, CodePaymentMethodNotFound, "no default payment method; add one first")
		}
		methodID = ms[0].ID
	}
	scope := "rider:" + rid + ":top_up"
	hash := idempotency.HashOf("top_up", in.Body.PaymentMethodID, strconv.FormatInt(in.Body.AmountMinor, 10), in.Body.Currency)
	replay, err := s.cfg.Idempotency.Begin(ctx, scope, key, hash)
	if err != nil {
		return nil, s.riderProblem("top_up", err)
	}
	if replay != nil {
		return replayPayment(replay)
	}
	p, err := s.TopUp(ctx, TopUpRequest{RiderID: rid, MethodID: methodID, Amount: in.Body.AmountMinor, Currency: in.Body.Currency},
		func(ctx context.Context, tx pgx.Tx, p Payment) error {
			status, body := topUpResponse(p)
			return s.cfg.Idempotency.Complete(ctx, tx, scope, key, status, body)
		})
	if err != nil {
		if errors.Is(err, errOutcomeNotSaved) {
			// The provider was asked: the key stays claimed so a retry cannot charge again.
			s.log.Error("top-up outcome not saved", "err", err)
			return nil, riderapi.NewProblem(http.StatusInternalServerError, CodeProviderOutcomeNotSaved,
				"the payment was sent to the provider but its result could not be saved; check GET /v1/payments")
		}
		if rerr := s.cfg.Idempotency.Release(context.WithoutCancel(ctx), scope, key); rerr != nil {
			s.log.Error("release idempotency key", "err", rerr)
		}
		return nil, s.riderProblem("top_up", err)
	}
	status, body := topUpResponse(p)
	if pb, ok := body.(PaymentBody); ok {
		return &paymentOutput{Status: status, Body: pb}, nil
	}
	return nil, body.(*riderapi.Problem)
}

// replayPayment turns a stored top-up answer back into the handler's result.
func replayPayment(r *idempotency.Response) (*paymentOutput, error) {
	if r.Status >= 400 {
		var p riderapi.Problem
		if err := json.Unmarshal(r.Body, &p); err != nil {
			return nil, fmt.Errorf("payments: stored problem: %w", err)
		}
		return nil, &p
	}
	out := &paymentOutput{Status: r.Status}
	if err := json.Unmarshal(r.Body, &out.Body); err != nil {
		return nil, fmt.Errorf("payments: stored payment: %w", err)
	}
	return out, nil
}

func (s *Service) balance(ctx context.Context, in *balanceInput) (*balanceOutput, error) {
	rid, err := rider(ctx)
	if err != nil {
		return nil, err
	}
	cur := in.Currency
	if cur == "" {
		cur = s.DefaultCurrency()
	}
	b, err := s.Balance(ctx, rid, cur)
	if err != nil {
		return nil, s.riderProblem("balance", err)
	}
	return &balanceOutput{Body: BalanceBody{Currency: cur, BalanceMinor: b}}, nil
}

func (s *Service) history(ctx context.Context, in *historyInput) (*historyOutput, error) {
	rid, err := rider(ctx)
	if err != nil {
		return nil, err
	}
	page, err := List(ctx, s.pool, Filter{RiderID: rid, Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return nil, s.riderProblem("history", err)
	}
	return &historyOutput{Body: pageBody(page)}, nil
}

func pageBody(page Page) PaymentPageBody {
	b := PaymentPageBody{Payments: make([]PaymentBody, 0, len(page.Payments)), Next: page.Next}
	for _, p := range page.Payments {
		b.Payments = append(b.Payments, NewPaymentBody(p))
	}
	return b
}

func (s *Service) getPayment(ctx context.Context, in *paymentIDInput) (*paymentOutput, error) {
	rid, err := rider(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.Get(ctx, rid, in.PaymentID)
	if err != nil {
		return nil, s.riderProblem("get_payment", err)
	}
	return &paymentOutput{Status: http.StatusOK, Body: NewPaymentBody(p)}, nil
}

func (s *Service) webhook(ctx context.Context, in *webhookInput) (*webhookOutput, error) {
	outcome, err := s.HandleWebhook(ctx, in.Provider, in.header, in.RawBody)
	if err != nil {
		if errors.Is(err, ErrBadSignature) || errors.Is(err, ErrMalformedEvent) {
			s.log.Warn("webhook refused", "provider", in.Provider, "err", err)
		}
		return nil, s.riderProblem("webhook", err)
	}
	out := &webhookOutput{}
	out.Body.Outcome = string(outcome)
	return out, nil
}

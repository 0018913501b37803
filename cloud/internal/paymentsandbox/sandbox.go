package paymentsandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/payments"
)

// Name is the provider's name (payments.provider, webhook path segment).
const Name = "sandbox"

// Test tokens.
const (
	TokenVisa              = "tok_visa"
	TokenMastercard        = "tok_mastercard"
	TokenDeclined          = "tok_declined"
	TokenInsufficientFunds = "tok_insufficient_funds"
	TokenPending           = "tok_pending"
	TokenPendingDeclined   = "tok_pending_declined"
)

type card struct {
	info    payments.MethodInfo
	outcome payments.Outcome // immediate outcome
	settle  payments.Outcome // for pending: what the webhook says later
	failure string
	message string
}

var cards = map[string]card{
	TokenVisa:              {info: info("Visa", "4242"), outcome: payments.OutcomeSucceeded},
	TokenMastercard:        {info: info("Mastercard", "4444"), outcome: payments.OutcomeSucceeded},
	TokenDeclined:          {info: info("Visa", "0002"), outcome: payments.OutcomeFailed, failure: "card_declined", message: "the card was declined"},
	TokenInsufficientFunds: {info: info("Visa", "9995"), outcome: payments.OutcomeFailed, failure: "insufficient_funds", message: "insufficient funds"},
	TokenPending:           {info: info("Visa", "3155"), outcome: payments.OutcomePending, settle: payments.OutcomeSucceeded},
	TokenPendingDeclined:   {info: info("Visa", "3220"), outcome: payments.OutcomePending, settle: payments.OutcomeFailed, failure: "card_declined", message: "the card was declined"},
}

func info(brand, last4 string) payments.MethodInfo {
	return payments.MethodInfo{Kind: payments.KindCard, Brand: brand, Last4: last4, Label: brand + " ending " + last4}
}

// Config configures a Sandbox.
type Config struct {
	// Secrets sign webhooks (the first) and verify them (any: rotation). Required, each at
	// least 16 bytes.
	Secrets [][]byte
	// WebhookURL receives the events (e.g. https://api.example.com/v1/payments/webhooks/sandbox);
	// empty: events are recorded (Events) but not delivered.
	WebhookURL string
	// PendingDelay is how long a pending charge waits before its settling webhook (default 2 s).
	PendingDelay time.Duration
	// Tolerance of webhook timestamps (default DefaultTolerance).
	Tolerance time.Duration
	// Attempts per delivery (default 6, backoff from 100 ms doubling).
	Attempts int
	Client   *http.Client
	Now      func() time.Time
	Log      *slog.Logger
}

// Delivery is an event the sandbox emitted: its id and exact signed body.
type Delivery struct {
	ID   string
	Type payments.EventType
	Body []byte
}

type charge struct {
	ref, paymentID, currency string
	amount, refunded         int64
	result                   payments.Result
}

// Sandbox is the sandbox provider.
type Sandbox struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex                 // guards the maps and events
	charges map[string]*charge         // by idempotency key
	byRef   map[string]*charge         // by reference
	refunds map[string]payments.Result // by idempotency key
	events  []Delivery
}

var _ payments.Provider = (*Sandbox)(nil)

// New returns a sandbox provider; Close stops its deliveries.
func New(cfg Config) (*Sandbox, error) {
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("paymentsandbox: a webhook secret is required")
	}
	for _, s := range cfg.Secrets {
		if len(s) < 16 {
			return nil, errors.New("paymentsandbox: webhook secrets must be at least 16 bytes")
		}
	}
	if cfg.PendingDelay == 0 {
		cfg.PendingDelay = 2 * time.Second
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = 6
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Sandbox{cfg: cfg, log: cfg.Log.With("component", "paymentsandbox"), ctx: ctx, cancel: cancel,
		charges: map[string]*charge{}, byRef: map[string]*charge{}, refunds: map[string]payments.Result{}}, nil
}

// Close cancels pending deliveries and waits for their goroutines.
func (s *Sandbox) Close() {
	s.cancel()
	s.wg.Wait()
}

// Name implements payments.Provider.
func (s *Sandbox) Name() string { return Name }

// DescribeMethod implements payments.Provider.
func (s *Sandbox) DescribeMethod(_ context.Context, token string) (payments.MethodInfo, error) {
	c, ok := cards[token]
	if !ok {
		return payments.MethodInfo{}, fmt.Errorf("sandbox: %w", payments.ErrInvalidToken)
	}
	return c.info, nil
}

func newRef(prefix string) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + hex.EncodeToString(b)
}

// Charge implements payments.Provider.
func (s *Sandbox) Charge(_ context.Context, r payments.ChargeRequest) (payments.Result, error) {
	c, ok := cards[r.MethodToken]
	if !ok {
		return payments.Result{}, fmt.Errorf("sandbox: charge: %w", payments.ErrInvalidToken)
	}
	if r.IdempotencyKey == "" || r.Amount <= 0 || r.Currency == "" {
		return payments.Result{}, errors.New("sandbox: charge: idempotency key, amount and currency are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.charges[r.IdempotencyKey]; ok {
		return ch.result, nil
	}
	ch := &charge{ref: newRef("ch_"), paymentID: r.PaymentID, currency: r.Currency, amount: r.Amount}
	ch.result = payments.Result{Reference: ch.ref, Outcome: c.outcome}
	if c.outcome == payments.OutcomeFailed {
		ch.result.FailureCode, ch.result.FailureMessage = c.failure, c.message
	}
	s.charges[r.IdempotencyKey] = ch
	s.byRef[ch.ref] = ch
	switch c.outcome {
	case payments.OutcomeSucceeded:
		s.emitLocked(payments.ChargeSucceeded, ch.ref, r.PaymentID, r.Amount, r.Currency, "", "", 0)
	case payments.OutcomeFailed:
		s.emitLocked(payments.ChargeFailed, ch.ref, r.PaymentID, r.Amount, r.Currency, c.failure, c.message, 0)
	case payments.OutcomePending:
		typ := payments.ChargeSucceeded
		if c.settle == payments.OutcomeFailed {
			typ = payments.ChargeFailed
		}
		s.emitLocked(typ, ch.ref, r.PaymentID, r.Amount, r.Currency, c.failure, c.message, s.cfg.PendingDelay)
	}
	return ch.result, nil
}

// Refund implements payments.Provider. A refund above what is left of the charge fails
// (amount_too_large); an unknown charge reference is refused.
func (s *Sandbox) Refund(_ context.Context, r payments.RefundRequest) (payments.Result, error) {
	if r.IdempotencyKey == "" || r.Amount <= 0 {
		return payments.Result{}, errors.New("sandbox: refund: idempotency key and amount are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if res, ok := s.refunds[r.IdempotencyKey]; ok {
		return res, nil
	}
	ch, ok := s.byRef[r.ChargeReference]
	if !ok || ch.result.Outcome == payments.OutcomeFailed {
		return payments.Result{}, fmt.Errorf("sandbox: refund: no succeeded charge %q", r.ChargeReference)
	}
	res := payments.Result{Reference: newRef("re_"), Outcome: payments.OutcomeSucceeded}
	if r.Currency != ch.currency || r.Amount > ch.amount-ch.refunded {
		res.Outcome, res.FailureCode, res.FailureMessage = payments.OutcomeFailed, "amount_too_large", "refund exceeds what is left of the charge"
		s.emitLocked(payments.RefundFailed, res.Reference, r.RefundID, r.Amount, r.Currency, res.FailureCode, res.FailureMessage, 0)
	} else {
		ch.refunded += r.Amount
		s.emitLocked(payments.RefundSucceeded, res.Reference, r.RefundID, r.Amount, r.Currency, "", "", 0)
	}
	s.refunds[r.IdempotencyKey] = res
	return res, nil
}

// Charges is the number of distinct charges made (idempotent repeats not counted).
func (s *Sandbox) Charges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.charges)
}

// Events lists every event emitted so far, in order.
func (s *Sandbox) Events() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.events...)
}

// wireEvent is the JSON of a webhook body.
type wireEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Reference      string `json:"reference"`
		PaymentID      string `json:"payment_id"`
		Amount         int64  `json:"amount"`
		Currency       string `json:"currency"`
		FailureCode    string `json:"failure_code,omitempty"`
		FailureMessage string `json:"failure_message,omitempty"`
	} `json:"data"`
}

// emitLocked records an event and delivers it after delay (s.mu held).
func (s *Sandbox) emitLocked(typ payments.EventType, ref, paymentID string, amount int64, currency, failure, message string, delay time.Duration) {
	var w wireEvent
	w.ID, w.Type, w.Created = newRef("evt_"), string(typ), s.cfg.Now().Unix()
	w.Data.Reference, w.Data.PaymentID, w.Data.Amount, w.Data.Currency = ref, paymentID, amount, currency
	w.Data.FailureCode, w.Data.FailureMessage = failure, message
	body, err := json.Marshal(w)
	if err != nil {
		s.log.Error("marshal event", "err", err)
		return
	}
	d := Delivery{ID: w.ID, Type: typ, Body: body}
	s.events = append(s.events, d)
	if s.cfg.WebhookURL == "" {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
		}
		s.deliver(s.ctx, d)
	}()
}

// deliver POSTs d, retrying with backoff until a 2xx answer, the attempts run out or ctx ends.
func (s *Sandbox) deliver(ctx context.Context, d Delivery) {
	backoff := 100 * time.Millisecond
	for attempt := 1; attempt <= s.cfg.Attempts; attempt++ {
		status, err := s.post(ctx, d.Body)
		if err == nil && status/100 == 2 {
			return
		}
		s.log.Warn("webhook delivery failed", "event", d.ID, "attempt", attempt, "status", status, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff *= 2
	}
}

func (s *Sandbox) post(ctx context.Context, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(s.cfg.Secrets[0], s.cfg.Now(), body))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close() //nolint:errcheck // drained below; nothing to report
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// Redeliver POSTs an already emitted event again, signed now (a provider's retry), and
// returns the receiver's status.
func (s *Sandbox) Redeliver(ctx context.Context, eventID string) (int, error) {
	s.mu.Lock()
	var body []byte
	for _, d := range s.events {
		if d.ID == eventID {
			body = d.Body
		}
	}
	s.mu.Unlock()
	if body == nil {
		return 0, fmt.Errorf("sandbox: no event %q", eventID)
	}
	if s.cfg.WebhookURL == "" {
		return 0, errors.New("sandbox: no webhook URL")
	}
	return s.post(ctx, body)
}

var (
	eventIDRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,255}$`)
	refRE     = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,255}$`)
	uuidRE    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	currRE    = regexp.MustCompile(`^[A-Z]{3}$`)
)

// VerifyWebhook implements payments.Provider.
func (s *Sandbox) VerifyWebhook(header http.Header, body []byte) (payments.Event, error) {
	if err := Verify(s.cfg.Secrets, header.Get(SignatureHeader), body, s.cfg.Now(), s.cfg.Tolerance); err != nil {
		return payments.Event{}, err
	}
	return ParseEvent(body)
}

// ParseEvent decodes and checks a webhook body (after its signature was verified).
func ParseEvent(body []byte) (payments.Event, error) {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return payments.Event{}, fmt.Errorf("%w: %v", payments.ErrMalformedEvent, err)
	}
	ev := payments.Event{ID: w.ID, Type: payments.EventType(w.Type), Reference: w.Data.Reference, PaymentID: w.Data.PaymentID,
		Amount: w.Data.Amount, Currency: w.Data.Currency, FailureCode: w.Data.FailureCode, FailureMessage: w.Data.FailureMessage}
	switch {
	case !eventIDRE.MatchString(ev.ID):
		return payments.Event{}, fmt.Errorf("%w: event id", payments.ErrMalformedEvent)
	case ev.Type != payments.ChargeSucceeded && ev.Type != payments.ChargeFailed && ev.Type != payments.RefundSucceeded && ev.Type != payments.RefundFailed:
		return payments.Event{}, fmt.Errorf("%w: event type %q", payments.ErrMalformedEvent, w.Type)
	case !refRE.MatchString(ev.Reference):
		return payments.Event{}, fmt.Errorf("%w: reference", payments.ErrMalformedEvent)
	case !uuidRE.MatchString(ev.PaymentID):
		return payments.Event{}, fmt.Errorf("%w: payment id", payments.ErrMalformedEvent)
	case ev.Amount <= 0 || !currRE.MatchString(ev.Currency):
		return payments.Event{}, fmt.Errorf("%w: amount or currency", payments.ErrMalformedEvent)
	case len(ev.FailureCode) > 64 || len(ev.FailureMessage) > 255:
		return payments.Event{}, fmt.Errorf("%w: failure text too long", payments.ErrMalformedEvent)
	}
	return ev, nil
}

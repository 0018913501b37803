package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/idempotency"
	"github.com/fleetedge/fleetedge/cloud/internal/ledger"
)

// Domain errors (the HTTP layer maps them to problems in one place).
var (
	ErrNotFound          = errors.New("payments: not found")
	ErrInvalid           = errors.New("payments: invalid request")
	ErrTooManyMethods    = errors.New("payments: too many payment methods")
	ErrAmountOutOfRange  = errors.New("payments: amount out of range")
	ErrCurrency          = errors.New("payments: unsupported currency")
	ErrUnknownProvider   = errors.New("payments: unknown provider")
	ErrNotRefundable     = errors.New("payments: not refundable")
	ErrRefundTooLarge    = errors.New("payments: refund exceeds what was paid")
	ErrBalanceTooLow     = errors.New("payments: balance too low")
	ErrReasonRequired    = errors.New("payments: a reason is required")
	ErrMethodUnavailable = errors.New("payments: payment method no longer usable")
)

// Config configures a Service.
type Config struct {
	Pool    *pgxpool.Pool
	Keyring *fieldcrypt.Keyring
	// Providers: the first one takes new payment methods; the others still serve refunds and
	// webhooks of what they processed before. At least one.
	Providers   []Provider
	Idempotency *idempotency.Store
	// Currencies riders may top up in (default EUR); the first is the default balance currency.
	Currencies []string
	// MinTopUp and MaxTopUp bound a top-up in minor units (default 100 and 50,000).
	MinTopUp, MaxTopUp int64
	// MaxAdjustment bounds a manual adjustment's absolute amount (default 100,000).
	MaxAdjustment int64
	// MaxMethods is how many active payment methods a rider may hold (default 10).
	MaxMethods int
	Log        *slog.Logger
	Now        func() time.Time
}

// Service is the payments area: payment methods, top-ups, webhooks, refunds and adjustments.
// It holds configuration only and is safe for concurrent use.
type Service struct {
	cfg       Config
	pool      *pgxpool.Pool
	log       *slog.Logger
	providers map[string]Provider
	primary   Provider
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Pool == nil || cfg.Keyring == nil || cfg.Idempotency == nil {
		return nil, errors.New("payments: pool, keyring and idempotency store are required")
	}
	if len(cfg.Providers) == 0 {
		return nil, errors.New("payments: at least one provider is required")
	}
	s := &Service{cfg: cfg, pool: cfg.Pool, providers: map[string]Provider{}, primary: cfg.Providers[0]}
	for _, p := range cfg.Providers {
		if !providerRE.MatchString(p.Name()) {
			return nil, fmt.Errorf("payments: provider name %q", p.Name())
		}
		if _, dup := s.providers[p.Name()]; dup {
			return nil, fmt.Errorf("payments: provider %q listed twice", p.Name())
		}
		s.providers[p.Name()] = p
	}
	if len(cfg.Currencies) == 0 {
		s.cfg.Currencies = []string{"EUR"}
	}
	for _, c := range s.cfg.Currencies {
		if !currencyRE.MatchString(c) {
			return nil, fmt.Errorf("payments: currency %q", c)
		}
	}
	if s.cfg.MinTopUp == 0 {
		s.cfg.MinTopUp = 100
	}
	if s.cfg.MaxTopUp == 0 {
		s.cfg.MaxTopUp = 50_000
	}
	if s.cfg.MaxAdjustment == 0 {
		s.cfg.MaxAdjustment = 100_000
	}
	if s.cfg.MinTopUp < 1 || s.cfg.MaxTopUp < s.cfg.MinTopUp || s.cfg.MaxAdjustment < 1 {
		return nil, errors.New("payments: top-up/adjustment bounds")
	}
	if s.cfg.MaxMethods == 0 {
		s.cfg.MaxMethods = 10
	}
	if s.cfg.Log == nil {
		s.cfg.Log = slog.New(slog.DiscardHandler)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	s.log = s.cfg.Log.With("component", "payments")
	return s, nil
}

var providerRE = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)

// DefaultCurrency is the currency balances are shown in when the rider names none.
func (s *Service) DefaultCurrency() string { return s.cfg.Currencies[0] }

func (s *Service) currencyAllowed(c string) bool {
	for _, x := range s.cfg.Currencies {
		if x == c {
			return true
		}
	}
	return false
}

// Provider returns the provider named name.
func (s *Service) Provider(name string) (Provider, error) {
	p, ok := s.providers[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, name)
	}
	return p, nil
}

// inTx runs fn in a transaction and commits through ledger.Commit (the balance trigger's
// refusal becomes ledger.ErrUnbalanced).
func (s *Service) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("payments: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if err := fn(tx); err != nil {
		return err
	}
	return ledger.Commit(ctx, tx)
}

// Balance is the rider's balance in currency (ledger.RiderBalance).
func (s *Service) Balance(ctx context.Context, riderID, currency string) (int64, error) {
	if !currencyRE.MatchString(currency) {
		return 0, fmt.Errorf("%w: currency", ErrCurrency)
	}
	b, err := ledger.RiderBalance(ctx, s.pool, riderID, currency)
	if errors.Is(err, ledger.ErrInvalid) {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return b, err
}

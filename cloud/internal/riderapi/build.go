package riderapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/accountpg"
	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/loginguard"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Settings is everything configurable about rider accounts and the rider API, in plain Go
// types: the cloud's configuration maps its file/env/flag settings onto it.
type Settings struct {
	// JWTKeys are the access-token signing keys, "id:BASE64SEED,id2:BASE64SEED" (32-byte
	// Ed25519 seeds, authtoken.GenerateSeed); JWTCurrentKey names the one that signs.
	JWTKeys       string
	JWTCurrentKey string
	JWTIssuer     string
	JWTAudience   string
	AccessTTL     time.Duration
	RefreshTTL    time.Duration

	Argon2              account.Argon2Params
	MaxConcurrentHashes int

	// OIDCProviders may be empty (no OIDC login); OIDCStateKey (≥ 32 bytes) is then unused.
	OIDCProviders  []rideroidc.ProviderConfig
	OIDCStateKey   []byte
	InsecureCookie bool

	Guard          loginguard.Policy
	TrustedProxies []netip.Prefix
}

// DefaultSettings has every default except the keys.
func DefaultSettings() Settings {
	return Settings{
		JWTIssuer:   "fleetedge",
		JWTAudience: "fleetedge-rider-api",
		AccessTTL:   authtoken.DefaultAccessTTL,
		RefreshTTL:  account.DefaultRefreshTTL,
		Argon2:      account.DefaultArgon2Params(),
		Guard:       loginguard.DefaultPolicy(),
	}
}

// Build wires the whole rider API from s: PostgreSQL store on pool (fleetedge_app), argon2id
// hasher, JWT issuer, OIDC login, guards. keyring seals phone numbers (the cloud's fieldcrypt
// keyring). reg (may be nil) gets the API's metrics; now may be nil (time.Now).
func Build(s Settings, pool *pgxpool.Pool, keyring *fieldcrypt.Keyring, reg prometheus.Registerer, log *slog.Logger, now func() time.Time) (*API, error) {
	if pool == nil || keyring == nil {
		return nil, errors.New("riderapi: build: a PostgreSQL pool and a fieldcrypt keyring are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	keys, err := authtoken.ParseKeyset(s.JWTCurrentKey, s.JWTKeys)
	if err != nil {
		return nil, fmt.Errorf("riderapi: build: jwt keys: %w", err)
	}
	issuer, err := authtoken.NewIssuer(keys, authtoken.Config{Issuer: s.JWTIssuer, Audience: s.JWTAudience, AccessTTL: s.AccessTTL, Now: now})
	if err != nil {
		return nil, fmt.Errorf("riderapi: build: %w", err)
	}
	hasher, err := account.NewHasher(s.Argon2, s.MaxConcurrentHashes)
	if err != nil {
		return nil, fmt.Errorf("riderapi: build: %w", err)
	}
	svc, err := account.NewService(account.Config{Store: accountpg.New(pool), Hasher: hasher, Tokens: issuer,
		Keyring: keyring, RefreshTTL: s.RefreshTTL, Now: now, Log: log.With("component", "account")})
	if err != nil {
		return nil, fmt.Errorf("riderapi: build: %w", err)
	}
	var login *rideroidc.Login
	if len(s.OIDCProviders) > 0 {
		login, err = rideroidc.New(rideroidc.Config{Providers: s.OIDCProviders, StateKey: s.OIDCStateKey,
			InsecureCookie: s.InsecureCookie, Now: now})
		if err != nil {
			return nil, fmt.Errorf("riderapi: build: %w", err)
		}
	}
	log.Info("rider API configured", "jwt_keys", keys, "access_ttl", issuer.AccessTTL(), "refresh_ttl", s.RefreshTTL,
		"argon2_memory_kib", s.Argon2.MemoryKiB, "argon2_time", s.Argon2.Time, "argon2_threads", s.Argon2.Threads,
		"oidc_providers", len(s.OIDCProviders))
	// Verified access tokens are remembered until they expire (a polling app pays the Ed25519
	// check once per token); 100,000 entries ≈ 10 MB.
	tokens := authtoken.NewVerifyCache(issuer, 100_000, now)
	return New(Config{Accounts: svc, Tokens: tokens, OIDC: login, Guard: s.Guard, TrustedProxies: s.TrustedProxies,
		Metrics: reg, Now: now, Log: log.With("component", "riderapi")})
}

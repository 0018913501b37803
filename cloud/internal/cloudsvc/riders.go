package cloudsvc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/admin"
	"github.com/fleetedge/fleetedge/cloud/internal/adminapi"
	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/riderapi"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
)

// Key is key material or a client secret: masked entirely wherever it is printed.
type Key string

// Reveal returns the unmasked value.
func (k Key) Reveal() string { return string(k) }

func (k Key) String() string {
	if k == "" {
		return ""
	}
	return "xxxxx"
}

// LogValue masks the key in slog output.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON masks the key (for --print-config).
func (k Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// UnmarshalJSON reads the plain value.
func (k *Key) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*k = Key(v)
	return nil
}

// FieldCryptConfig is the keyring that encrypts personal data at rest (phone numbers,
// payment-method tokens, TOTP secrets): "id:BASE64KEY,id2:BASE64KEY" (32-byte AES keys,
// `fieldcrypt.GenerateKey`), CurrentKey names the one that encrypts. Left empty, a
// development key is generated once into <data-dir>/dev-fieldcrypt.key and reused (with a
// warning at every start): production sets the keyring from its secret store, because data
// sealed with a key that is later lost cannot be read again.
type FieldCryptConfig struct {
	Keys       Key    `json:"keys"`
	CurrentKey string `json:"current_key"`
}

// RidersConfig configures the rider API under /v1/ (roles all and api).
type RidersConfig struct {
	// JWTKeys signs access tokens: "id:BASE64SEED,…" (Ed25519 seeds,
	// authtoken.GenerateSeed); JWTCurrentKey names the signing one. Empty: a key is
	// generated at start (access tokens then die with the process — development only;
	// refresh tokens survive).
	JWTKeys       Key    `json:"jwt_keys"`
	JWTCurrentKey string `json:"jwt_current_key"`
	// AccessTTL and RefreshTTL are the tokens' lifetimes.
	AccessTTL  Duration `json:"access_ttl"`
	RefreshTTL Duration `json:"refresh_ttl"`
	// OIDCProviders enables "log in with …" (Google, Apple, any OIDC provider);
	// OIDCStateKey (base64, ≥ 32 bytes) signs the login-state cookie and is required with them.
	OIDCProviders []OIDCProvider `json:"oidc_providers,omitempty"`
	OIDCStateKey  Key            `json:"oidc_state_key"`
	// InsecureCookie drops the Secure flag of the OIDC state cookie (plain-HTTP development).
	InsecureCookie bool `json:"insecure_cookie"`
	// TrustedProxies (CIDRs) may set X-Forwarded-For, which rate limits then key on.
	TrustedProxies []string `json:"trusted_proxies,omitempty"`
}

// OIDCProvider is one OpenID Connect provider riders can log in with.
type OIDCProvider struct {
	Name         string   `json:"name"` // path segment: /v1/auth/oidc/{name}/start
	Issuer       string   `json:"issuer"`
	ClientID     string   `json:"client_id"`
	ClientSecret Key      `json:"client_secret"`
	RedirectURL  string   `json:"redirect_url"`
	Scopes       []string `json:"scopes,omitempty"`
	// ResponseMode is "query" (default: the provider redirects to GET …/callback) or
	// "form_post" (it POSTs a form to …/callback; Sign in with Apple).
	ResponseMode string `json:"response_mode,omitempty"`
	// ClientSecretJWT replaces client_secret by a short-lived ES256 JWT (Sign in with Apple).
	ClientSecretJWT *OIDCClientSecretJWT `json:"client_secret_jwt,omitempty"`
}

// OIDCClientSecretJWT is Sign in with Apple's client secret: a JWT signed with the key
// downloaded from Apple (a .p8 file: PKCS#8 P-256), iss = TeamID, kid = KeyID, sub = the
// provider's client_id (the Services ID), renewed every TTL (default 1h, ≤ 6 months).
type OIDCClientSecretJWT struct {
	TeamID         string   `json:"team_id"`
	KeyID          string   `json:"key_id"`
	PrivateKeyFile string   `json:"private_key_file"`
	TTL            Duration `json:"ttl,omitempty"`
}

// providerConfig turns p into rideroidc's settings, reading the client-secret key file.
func (p OIDCProvider) providerConfig() (rideroidc.ProviderConfig, error) {
	pc := rideroidc.ProviderConfig{Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret.Reveal(),
		RedirectURL: p.RedirectURL, Scopes: p.Scopes, ResponseMode: p.ResponseMode}
	if j := p.ClientSecretJWT; j != nil {
		if j.PrivateKeyFile == "" {
			return pc, errors.New("client_secret_jwt.private_key_file is empty")
		}
		key, err := os.ReadFile(j.PrivateKeyFile)
		if err != nil {
			return pc, fmt.Errorf("client_secret_jwt.private_key_file: %w", err)
		}
		pc.ClientSecretJWT = &rideroidc.ClientSecretJWT{TeamID: j.TeamID, KeyID: j.KeyID, PrivateKeyPEM: key, TTL: j.TTL.D()}
	}
	return pc, pc.Validate()
}

func defaultRiders() RidersConfig {
	d := riderapi.DefaultSettings()
	return RidersConfig{AccessTTL: Duration(d.AccessTTL), RefreshTTL: Duration(d.RefreshTTL)}
}

// validate reports problems of the rider and keyring settings (every role builds the areas;
// role ingest needs the same keyring as the API replicas).
func (c Config) validateRiders(bad func(setting, format string, args ...any)) {
	if (c.FieldCrypt.Keys == "") != (c.FieldCrypt.CurrentKey == "") {
		bad("fieldcrypt.keys", "keys and current_key go together (FLEETEDGE_FIELDCRYPT_KEYS, FLEETEDGE_FIELDCRYPT_CURRENT_KEY)")
	} else if c.FieldCrypt.Keys == "" {
		// development keyring in the data directory, see FieldCryptConfig
	} else if keys, err := fieldcrypt.ParseKeySpec(c.FieldCrypt.Keys.Reveal()); err != nil {
		bad("fieldcrypt.keys", "%v", err)
	} else if _, err := fieldcrypt.ParseKeyring(c.FieldCrypt.CurrentKey, keys); err != nil {
		bad("fieldcrypt.current_key", "%v", err)
	}
	if (c.Riders.JWTKeys == "") != (c.Riders.JWTCurrentKey == "") {
		bad("riders.jwt_keys", "jwt_keys and jwt_current_key go together")
	}
	if c.Riders.AccessTTL.D() <= 0 || c.Riders.RefreshTTL.D() <= c.Riders.AccessTTL.D() {
		bad("riders.access_ttl", "want 0 < access_ttl < refresh_ttl")
	}
	if len(c.Riders.OIDCProviders) > 0 {
		if k, err := base64.StdEncoding.DecodeString(c.Riders.OIDCStateKey.Reveal()); err != nil || len(k) < 32 {
			bad("riders.oidc_state_key", "OIDC login needs a base64 state key of at least 32 bytes")
		}
	}
	for i, p := range c.Riders.OIDCProviders {
		if _, err := p.providerConfig(); err != nil {
			bad(fmt.Sprintf("riders.oidc_providers[%d]", i), "%v", err)
		}
	}
	for _, p := range c.Riders.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("riders.trusted_proxies", "%q: %v", p, err)
		}
	}
}

// riderSettings turns the configuration into riderapi's settings; a missing JWT key is
// generated (logged as a warning by the caller).
func (c Config) riderSettings() (s riderapi.Settings, generated bool, err error) {
	s = riderapi.DefaultSettings()
	s.JWTKeys, s.JWTCurrentKey = c.Riders.JWTKeys.Reveal(), c.Riders.JWTCurrentKey
	if s.JWTKeys == "" {
		seed, err := authtoken.GenerateSeed()
		if err != nil {
			return s, false, err
		}
		s.JWTKeys, s.JWTCurrentKey, generated = "ephemeral:"+seed, "ephemeral", true
	}
	s.AccessTTL, s.RefreshTTL = c.Riders.AccessTTL.D(), c.Riders.RefreshTTL.D()
	s.InsecureCookie = c.Riders.InsecureCookie
	for i, p := range c.Riders.OIDCProviders {
		pc, err := p.providerConfig()
		if err != nil {
			return s, false, fmt.Errorf("riders.oidc_providers[%d]: %w", i, err)
		}
		s.OIDCProviders = append(s.OIDCProviders, pc)
	}
	if len(s.OIDCProviders) > 0 {
		if s.OIDCStateKey, err = base64.StdEncoding.DecodeString(c.Riders.OIDCStateKey.Reveal()); err != nil {
			return s, false, fmt.Errorf("riders.oidc_state_key: %w", err)
		}
	}
	for _, p := range c.Riders.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return s, false, fmt.Errorf("riders.trusted_proxies: %w", err)
		}
		s.TrustedProxies = append(s.TrustedProxies, pfx)
	}
	return s, generated, nil
}

// devKeyFile holds the generated development key when no keyring is configured.
const devKeyFile = "dev-fieldcrypt.key"

// keyring returns the configured keyring, or the development one from the data
// directory (created on first use); dev reports the latter.
func (c Config) keyring() (kr *fieldcrypt.Keyring, dev bool, err error) {
	spec, current := c.FieldCrypt.Keys.Reveal(), c.FieldCrypt.CurrentKey
	if spec == "" {
		path := filepath.Join(c.DataDir, devKeyFile)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			key, gerr := fieldcrypt.GenerateKey()
			if gerr != nil {
				return nil, true, gerr
			}
			if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
				return nil, true, err
			}
			b = []byte("dev:" + key)
			// O_EXCL: two processes sharing a data dir never write two different keys.
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				return c.keyring() // another process created it first: use theirs
			}
			if err != nil {
				return nil, true, fmt.Errorf("create %s: %w", path, err)
			}
			_, werr := f.Write(b)
			if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
				return nil, true, fmt.Errorf("write %s: %w", path, err)
			}
		} else if err != nil {
			return nil, true, err
		}
		spec, current = strings.TrimSpace(string(b)), "dev"
		dev = true
	}
	keys, err := fieldcrypt.ParseKeySpec(spec)
	if err != nil {
		return nil, dev, err
	}
	kr, err = fieldcrypt.ParseKeyring(current, keys)
	return kr, dev, err
}

// riderHandler serves /v1/ once the rider API is built (after PostgreSQL is up); until
// then it answers 503 with Retry-After, like /readyz.
func (a *App) riderHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if api := a.rider.Load(); api != nil {
			api.Handler().ServeHTTP(w, r)
			return
		}
		w.Header().Set("Retry-After", "1")
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
}

// startAPIs builds the rider and admin APIs on the connected pool and starts the
// periodic purge of expired sessions (stopped in stop()).
func (a *App) startAPIs(ctx context.Context) error {
	s, generated, err := a.cfg.riderSettings()
	if err != nil {
		return fmt.Errorf("cloud: rider API: %w", err)
	}
	if generated && a.cfg.Role.HasAPI() {
		a.log.Warn("no rider JWT keys configured: using a key generated at start; access tokens end with this process (set FLEETEDGE_RIDER_JWT_KEYS)")
	}
	kr, dev, err := a.cfg.keyring()
	if err != nil {
		return fmt.Errorf("cloud: fieldcrypt: %w", err)
	}
	if dev {
		a.log.Warn("no encryption keyring configured: using the development key in the data directory (set FLEETEDGE_FIELDCRYPT_KEYS in production)",
			"file", filepath.Join(a.cfg.DataDir, devKeyFile))
	}
	api, err := riderapi.Build(s, a.pg.Load(), kr, a.reg, a.log.With("component", "riderapi"), nil)
	if err != nil {
		return fmt.Errorf("cloud: rider API: %w", err)
	}
	admins, adm, err := a.startAdmin(ctx, kr)
	if err != nil {
		return err
	}
	if err := a.registerAreas(api, adm, kr); err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	a.rider.Store(api)
	a.admin.Store(adm)
	pctx, cancel := context.WithCancel(context.Background())
	a.purgeCancel = cancel
	a.purgeDone = make(chan struct{})
	go func() {
		defer close(a.purgeDone)
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				if n, err := api.PurgeExpiredSessions(pctx); err != nil {
					a.log.Warn("purge expired rider sessions", "err", err)
				} else if n > 0 {
					a.log.Info("purged expired rider sessions", "count", n)
				}
				if n, err := admins.PurgeExpiredSessions(pctx); err != nil {
					a.log.Warn("purge expired admin sessions", "err", err)
				} else if n > 0 {
					a.log.Info("purged expired admin sessions", "count", n)
				}
			}
		}
	}()
	return nil
}

// AdminConfig configures the admin API under /admin/v1/ (roles all and api).
type AdminConfig struct {
	// BootstrapEmail, with BootstrapPasswordFile, creates the first super admin at start
	// when no admin exists yet (a no-op otherwise, safe on every start and replica). The
	// password comes from a file, never from the command line.
	BootstrapEmail        string `json:"bootstrap_email"`
	BootstrapName         string `json:"bootstrap_name"`
	BootstrapPasswordFile string `json:"bootstrap_password_file"`
	// TrustedProxies (CIDRs) may set X-Forwarded-For (audit "from where", rate limits).
	TrustedProxies []string `json:"trusted_proxies,omitempty"`
}

func (c Config) validateAdmin(bad func(setting, format string, args ...any)) {
	if !c.Role.HasAPI() {
		return
	}
	if (c.Admin.BootstrapEmail == "") != (c.Admin.BootstrapPasswordFile == "") {
		bad("admin.bootstrap_email", "bootstrap_email and bootstrap_password_file go together")
	}
	for _, p := range c.Admin.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("admin.trusted_proxies", "%q: %v", p, err)
		}
	}
}

// adminHandler serves /admin/v1/ once the admin API is built; 503 until then.
func (a *App) adminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if api := a.admin.Load(); api != nil {
			api.Handler().ServeHTTP(w, r)
			return
		}
		w.Header().Set("Retry-After", "1")
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
}

// startAdmin builds the admin API on the connected pool, creating the bootstrap admin
// when configured and none exists.
func (a *App) startAdmin(ctx context.Context, kr *fieldcrypt.Keyring) (*admin.Service, *adminapi.API, error) {
	log := a.log.With("component", "admin")
	svc, err := admin.New(admin.Config{Pool: a.pg.Load(), Keyring: kr, Log: log})
	if err != nil {
		return nil, nil, fmt.Errorf("cloud: admin: %w", err)
	}
	if c := a.cfg.Admin; c.BootstrapEmail != "" {
		pw, err := os.ReadFile(c.BootstrapPasswordFile)
		if err != nil {
			return nil, nil, fmt.Errorf("cloud: admin bootstrap password: %w", err)
		}
		name := c.BootstrapName
		if name == "" {
			name = "Administrator"
		}
		created, err := svc.Bootstrap(ctx, c.BootstrapEmail, name, strings.TrimSpace(string(pw)))
		if err != nil {
			return nil, nil, fmt.Errorf("cloud: admin bootstrap: %w", err)
		}
		if created {
			log.Info("first super admin created", "email", c.BootstrapEmail)
		}
	}
	var proxies []netip.Prefix
	for _, p := range a.cfg.Admin.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, nil, fmt.Errorf("cloud: admin.trusted_proxies: %w", err)
		}
		proxies = append(proxies, pfx)
	}
	api, err := adminapi.New(adminapi.Config{Admins: svc, Audit: a.pg.Load(), TrustedProxies: proxies,
		Log: a.log.With("component", "adminapi")})
	if err != nil {
		return nil, nil, fmt.Errorf("cloud: admin API: %w", err)
	}
	return svc, api, nil
}

package cloudsvc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
)

// TestOIDCProviderConfig loads Google- and Apple-style providers from a config file and
// checks what reaches rideroidc, and that bad provider settings are named by Validate.
func TestOIDCProviderConfig(t *testing.T) {
	dir := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	p8 := filepath.Join(dir, "AuthKey_KEY1234567.p8")
	if err := os.WriteFile(p8, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	stateKey := base64.StdEncoding.EncodeToString(make([]byte, 32))
	cfgFile := filepath.Join(dir, "cloud.json")
	if err := os.WriteFile(cfgFile, []byte(`{"riders":{"oidc_state_key":"`+stateKey+`","oidc_providers":[
		{"name":"google","issuer":"https://accounts.google.com","client_id":"g","client_secret":"gs","redirect_url":"https://api.example.com/v1/auth/oidc/google/callback"},
		{"name":"apple","issuer":"https://appleid.apple.com","client_id":"com.example.rider","redirect_url":"https://api.example.com/v1/auth/oidc/apple/callback",
		 "scopes":["openid","email","name"],"response_mode":"form_post",
		 "client_secret_jwt":{"team_id":"TEAM123456","key_id":"KEY1234567","private_key_file":"`+p8+`","ttl":"30m"}}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := LoadConfig([]string{"--config", cfgFile}, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := inv.Config.riderSettings()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.OIDCProviders) != 2 {
		t.Fatalf("providers %+v", s.OIDCProviders)
	}
	g, a := s.OIDCProviders[0], s.OIDCProviders[1]
	if g.ClientSecret != "gs" || g.ResponseMode != "" || g.ClientSecretJWT != nil {
		t.Fatalf("google %+v", g)
	}
	if a.ResponseMode != rideroidc.ResponseModeFormPost || a.ClientSecret != "" || a.ClientSecretJWT == nil ||
		a.ClientSecretJWT.TeamID != "TEAM123456" || a.ClientSecretJWT.KeyID != "KEY1234567" || a.ClientSecretJWT.TTL != 30*time.Minute {
		t.Fatalf("apple %+v", a)
	}
	if _, err := rideroidc.ParseClientSecretKey(a.ClientSecretJWT.PrivateKeyPEM); err != nil {
		t.Fatalf("key from file: %v", err)
	}

	for name, tc := range map[string]struct {
		change func(p *OIDCProvider)
		want   string
	}{
		"unknown mode":     {func(p *OIDCProvider) { p.ResponseMode = "fragment" }, `response_mode "fragment"`},
		"missing key file": {func(p *OIDCProvider) { p.ClientSecretJWT.PrivateKeyFile = filepath.Join(dir, "nope.p8") }, "private_key_file"},
		"no key file":      {func(p *OIDCProvider) { p.ClientSecretJWT.PrivateKeyFile = "" }, "private_key_file is empty"},
		"not a key":        {func(p *OIDCProvider) { p.ClientSecretJWT.PrivateKeyFile = cfgFile }, "no PEM block"},
		"no team id":       {func(p *OIDCProvider) { p.ClientSecretJWT.TeamID = "" }, "team_id"},
		"secret too":       {func(p *OIDCProvider) { p.ClientSecret = "x" }, "exclude each other"},
	} {
		c := inv.Config
		ps := append([]OIDCProvider(nil), c.Riders.OIDCProviders...)
		j := *ps[1].ClientSecretJWT
		ps[1].ClientSecretJWT = &j
		tc.change(&ps[1])
		c.Riders.OIDCProviders = ps
		err := c.Validate()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "riders.oidc_providers[1]") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
		if _, _, err := c.riderSettings(); err == nil {
			t.Errorf("%s: riderSettings accepted it", name)
		}
	}
}

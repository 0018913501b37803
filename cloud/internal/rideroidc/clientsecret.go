package rideroidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ClientSecretJWT makes the client secret a short-lived JWT signed with ES256 by the
// developer's private key, as Sign in with Apple requires: header kid = KeyID; claims
// iss = TeamID, sub = the provider's ClientID (Apple's Services ID), aud = Audience,
// iat = now, exp = now + TTL. It replaces ProviderConfig.ClientSecret.
type ClientSecretJWT struct {
	TeamID string
	KeyID  string
	// PrivateKeyPEM is the P-256 key: PKCS#8 ("PRIVATE KEY", Apple's .p8 files) or SEC1
	// ("EC PRIVATE KEY").
	PrivateKeyPEM []byte
	// Audience defaults to the provider's Issuer (https://appleid.apple.com for Apple).
	Audience string
	// TTL is each JWT's lifetime (default 1 h; at least 1 min, at most MaxClientSecretTTL).
	TTL time.Duration
}

// String never shows the key (ProviderConfig values may end up in logs or panics).
func (c ClientSecretJWT) String() string {
	return fmt.Sprintf("{TeamID:%s KeyID:%s PrivateKeyPEM:[%d bytes] Audience:%s TTL:%s}", c.TeamID, c.KeyID,
		len(c.PrivateKeyPEM), c.Audience, c.TTL)
}

// DefaultClientSecretTTL is ClientSecretJWT.TTL's default: short, so a leaked client secret
// is worth little, while one signature serves every login of the hour.
const DefaultClientSecretTTL = time.Hour

// MaxClientSecretTTL is Apple's upper bound on a client secret's lifetime (15,777,000 s).
const MaxClientSecretTTL = 15777000 * time.Second

// ParseClientSecretKey parses a PEM P-256 private key (PKCS#8 or SEC1). Errors name the
// problem, never the key material.
func ParseClientSecretKey(pemBytes []byte) (*ecdsa.PrivateKey, error) {
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block in the private key")
	}
	if b, _ := pem.Decode(rest); b != nil {
		return nil, errors.New("more than one PEM block in the private key file")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q: want PRIVATE KEY (PKCS#8) or EC PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, errors.New("the private key does not parse (PKCS#8 or SEC1 expected)")
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("the private key is not an ECDSA P-256 key (ES256)")
	}
	return ec, nil
}

// secretSigner signs and caches the client-secret JWT of one provider. mu guards the
// cached secret; signing happens under it, so concurrent logins share one signature.
type secretSigner struct {
	cfg      ClientSecretJWT
	clientID string
	key      *ecdsa.PrivateKey
	now      func() time.Time

	mu      sync.Mutex
	secret  string
	renewAt time.Time
}

// renewMargin is how long before expiry a cached secret is replaced: a tenth of its
// lifetime, at most 5 minutes, so a secret is never sent moments before it expires (clock
// skew, slow token endpoints).
func (s *secretSigner) renewMargin() time.Duration {
	return min(s.cfg.TTL/10, 5*time.Minute)
}

func (s *secretSigner) get() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.secret != "" && now.Before(s.renewAt) {
		return s.secret, nil
	}
	exp := now.Add(s.cfg.TTL)
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{
		Issuer:    s.cfg.TeamID,
		Subject:   s.clientID,
		Audience:  jwt.ClaimStrings{s.cfg.Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	})
	tok.Header["kid"] = s.cfg.KeyID
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("rideroidc: client secret: %w", err)
	}
	s.secret, s.renewAt = signed, exp.Add(-s.renewMargin())
	return signed, nil
}

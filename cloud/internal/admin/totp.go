package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 6238's default and what authenticator apps implement
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"time"
)

// TOTP parameters (RFC 6238 defaults, what every authenticator app supports).
const (
	TOTPPeriod  = 30 * time.Second
	TOTPDigits  = 6
	TOTPSkew    = 1  // steps accepted either side of the current one
	totpSecretN = 20 // bytes (160 bits, RFC 4226's recommendation)
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func newTOTPSecret() ([]byte, error) {
	s := make([]byte, totpSecretN)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("admin: totp secret: %w", err)
	}
	return s, nil
}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// TOTPCode computes the code of secret at time step (exported for tests and tools that act as
// an authenticator).
func TOTPCode(secret []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// TOTPCodeAt is TOTPCode for the step containing t, with the secret in base32 as shown at
// enrolment.
func TOTPCodeAt(secretB32 string, t time.Time) (string, error) {
	s, err := b32.DecodeString(secretB32)
	if err != nil {
		return "", fmt.Errorf("%w: totp secret is not base32", ErrInvalidInput)
	}
	return TOTPCode(s, totpStep(t)), nil
}

// matchTOTP returns the step (within ±TOTPSkew of now) whose code is code, comparing in
// constant time; ok is false when none matches or code is malformed.
func matchTOTP(secret []byte, code string, now time.Time) (step int64, ok bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	cur := totpStep(now)
	found := int64(-1)
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		if subtle.ConstantTimeCompare([]byte(TOTPCode(secret, cur+d)), []byte(code)) == 1 && found < 0 {
			found = cur + d
		}
	}
	return found, found >= 0
}

func otpauthURI(issuer, account string, secret []byte) string {
	label := url.PathEscape(issuer + ":" + account)
	q := url.Values{}
	q.Set("secret", b32.EncodeToString(secret))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(TOTPDigits))
	q.Set("period", fmt.Sprint(int(TOTPPeriod/time.Second)))
	return "otpauth://totp/" + label + "?" + q.Encode()
}

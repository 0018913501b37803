package account

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Validation errors; a FieldError wraps one of them and names the field.
var (
	ErrInvalidInput  = errors.New("invalid input")
	ErrInvalidEmail  = fmt.Errorf("%w: email", ErrInvalidInput)
	ErrWeakPassword  = fmt.Errorf("%w: password does not meet the rules", ErrInvalidInput)
	ErrInvalidName   = fmt.Errorf("%w: name", ErrInvalidInput)
	ErrInvalidPhone  = fmt.Errorf("%w: phone", ErrInvalidInput)
	ErrStatusUnknown = errors.New("account: unknown rider status")
)

// FieldError says which input field is wrong and why (Reason never contains the value).
type FieldError struct {
	Field  string
	Reason string
	Err    error
}

func (e *FieldError) Error() string { return fmt.Sprintf("account: %s: %s", e.Field, e.Reason) }

// Unwrap returns the category (ErrInvalidEmail, ErrWeakPassword, …).
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, cat error, reason string) error {
	return &FieldError{Field: field, Reason: reason, Err: cat}
}

// Email is a normalised email address (see ParseEmail).
type Email string

func (e Email) String() string { return string(e) }

// Limits on inputs.
const (
	MaxEmailBytes     = 254
	MinPasswordRunes  = 10
	MaxPasswordRunes  = 128
	MaxPasswordBytes  = 512
	MaxNameRunes      = 100
	minPhoneDigits    = 8
	maxPhoneDigits    = 15
	maxEmailLocalPart = 64
)

// ParseEmail normalises s (trim, NFC, lower-case) and checks it is a plausible address.
func ParseEmail(s string) (Email, error) {
	if len(s) > 4*MaxEmailBytes || !utf8.ValidString(s) {
		return "", fieldErr("email", ErrInvalidEmail, "not a valid email address")
	}
	s = strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
	if s == "" || len(s) > MaxEmailBytes {
		return "", fieldErr("email", ErrInvalidEmail, "must be 1 to 254 bytes")
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(domain, "@") {
		return "", fieldErr("email", ErrInvalidEmail, "must contain exactly one @")
	}
	if local == "" || len(local) > maxEmailLocalPart {
		return "", fieldErr("email", ErrInvalidEmail, "local part must be 1 to 64 bytes")
	}
	for _, r := range local {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`"(),:;<>[\]`, r) {
			return "", fieldErr("email", ErrInvalidEmail, "local part has a forbidden character")
		}
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", fieldErr("email", ErrInvalidEmail, "misplaced dot in the local part")
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "", fieldErr("email", ErrInvalidEmail, "domain needs at least two labels")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "", fieldErr("email", ErrInvalidEmail, "invalid domain label")
		}
		for _, r := range l {
			if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-') {
				return "", fieldErr("email", ErrInvalidEmail, "invalid character in the domain")
			}
		}
	}
	if strings.IndexFunc(labels[len(labels)-1], func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
		return "", fieldErr("email", ErrInvalidEmail, "top-level domain cannot be numeric")
	}
	return Email(s), nil
}

// LocalPart is the part before the @.
func (e Email) LocalPart() string {
	l, _, _ := strings.Cut(string(e), "@")
	return l
}

// commonPasswords are among the most used passwords of at least 10 characters (lower-case).
var commonPasswords = map[string]bool{
	"1234567890": true, "0123456789": true, "password12": true, "password123": true,
	"password1234": true, "qwertyuiop": true, "1q2w3e4r5t": true, "iloveyou12": true,
	"qwerty1234": true, "1234qwer": true, "123456789a": true, "a123456789": true,
	"abcdefghij": true, "passw0rd12": true, "letmein123": true, "welcome123": true,
	"qwerty12345": true, "12345678910": true, "1234567890a": true, "asdfghjkl1": true,
	"zaq12wsxcde": true, "1qaz2wsx3edc": true, "qazwsxedcrfv": true, "football123": true,
	"sunshine123": true, "princess123": true, "changeme123": true, "administrator": true,
}

// NormalizePassword is the form a password is hashed in (NFC), so the same password typed
// on two keyboards producing different Unicode forms still matches.
func NormalizePassword(pw string) string { return norm.NFC.String(pw) }

// CheckPassword applies the password rules (package comment) to pw; email may be empty.
func CheckPassword(pw string, email Email) error {
	if len(pw) > MaxPasswordBytes || !utf8.ValidString(pw) {
		return fieldErr("password", ErrWeakPassword, "must be valid UTF-8 of at most 512 bytes")
	}
	pw = NormalizePassword(pw)
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordRunes {
		return fieldErr("password", ErrWeakPassword, fmt.Sprintf("must be at least %d characters", MinPasswordRunes))
	}
	if n > MaxPasswordRunes {
		return fieldErr("password", ErrWeakPassword, fmt.Sprintf("must be at most %d characters", MaxPasswordRunes))
	}
	runes := []rune(pw)
	same, up, down := true, true, true
	for i := 1; i < len(runes); i++ {
		same = same && runes[i] == runes[0]
		up = up && runes[i] == runes[i-1]+1
		down = down && runes[i] == runes[i-1]-1
	}
	if same {
		return fieldErr("password", ErrWeakPassword, "must not be one repeated character")
	}
	if up || down {
		return fieldErr("password", ErrWeakPassword, "must not be a simple sequence")
	}
	lower := strings.ToLower(pw)
	if commonPasswords[lower] {
		return fieldErr("password", ErrWeakPassword, "is too common")
	}
	if lp := email.LocalPart(); len(lp) >= 4 && strings.Contains(lower, lp) {
		return fieldErr("password", ErrWeakPassword, "must not contain the email address")
	}
	return nil
}

// ParseName normalises a first or last name (field names the field for the error).
func ParseName(field, s string) (string, error) {
	if len(s) > 4*MaxNameRunes+16 || !utf8.ValidString(s) {
		return "", fieldErr(field, ErrInvalidName, "must be 1 to 100 characters")
	}
	s = norm.NFC.String(strings.TrimSpace(s))
	if n := utf8.RuneCountInString(s); n < 1 || n > MaxNameRunes {
		return "", fieldErr(field, ErrInvalidName, "must be 1 to 100 characters")
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", fieldErr(field, ErrInvalidName, "must not contain control characters")
	}
	return s, nil
}

// ParsePhone returns s in E.164 form ("+" and 8–15 digits), after removing spaces, dots,
// dashes and parentheses.
func ParsePhone(s string) (string, error) {
	if len(s) > 64 {
		return "", fieldErr("phone", ErrInvalidPhone, "must be an international number like +34600111222")
	}
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')':
		default:
			return "", fieldErr("phone", ErrInvalidPhone, "must be an international number like +34600111222")
		}
	}
	p := b.String()
	if !strings.HasPrefix(p, "+") || len(p)-1 < minPhoneDigits || len(p)-1 > maxPhoneDigits || p[1] == '0' {
		return "", fieldErr("phone", ErrInvalidPhone, "must be an international number like +34600111222")
	}
	return p, nil
}

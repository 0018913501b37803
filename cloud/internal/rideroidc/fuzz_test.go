package rideroidc_test

import (
	"strings"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/rideroidc"
)

// FuzzUserNames: whatever a form_post "user" field holds, the names it yields are empty or
// acceptable to the account (a provider's odd name never fails a login), and nothing panics.
func FuzzUserNames(f *testing.F) {
	for _, s := range []string{
		`{"name":{"firstName":"Ana","lastName":"Gil"},"email":"a@example.com"}`,
		`{"name":{"firstName":" \u0000Zoë\t","lastName":"` + strings.Repeat("é", 120) + `"}}`,
		`{"name":{"firstName":"` + strings.Repeat("\u0958", 100) + `"}}`, // NFC decomposes it: 200 runes
		`{"name":{"firstName":7}}`, `{"name":`, `null`, `[]`, "\xff\xfe", `{"name":{"firstName":"\ud800"}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, user string) {
		first, last := rideroidc.UserNames(user)
		for field, v := range map[string]string{"first_name": first, "last_name": last} {
			if v == "" {
				continue
			}
			if got, err := account.ParseName(field, v); err != nil || got == "" {
				t.Fatalf("%s %q from %q refused by the account: %v", field, v, user, err)
			}
		}
	})
}

// FuzzParseClientSecretKey: any file content is a key or an error, never a panic, and the
// error never repeats the file.
func FuzzParseClientSecretKey(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("not pem"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := rideroidc.ParseClientSecretKey(b)
		if err == nil && k == nil {
			t.Fatal("no key and no error")
		}
		if err != nil && len(b) > 16 && strings.Contains(err.Error(), string(b)) {
			t.Fatalf("error repeats the input: %v", err)
		}
	})
}

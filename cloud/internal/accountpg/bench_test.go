package accountpg_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/accountpg"
	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
)

// benchService is a Service with the production argon2id parameters on a fresh database.
func benchService(b *testing.B) *account.Service {
	b.Helper()
	db := pgstoretest.New(b)
	kr, err := fieldcrypt.NewKeyring("p1", map[string][]byte{"p1": bytes.Repeat([]byte{7}, fieldcrypt.KeySize)})
	if err != nil {
		b.Fatal(err)
	}
	h, err := account.NewHasher(account.DefaultArgon2Params(), 0)
	if err != nil {
		b.Fatal(err)
	}
	ks, _ := authtoken.NewKeyset("k1", map[string][]byte{"k1": bytes.Repeat([]byte{1}, 32)})
	iss, _ := authtoken.NewIssuer(ks, authtoken.Config{Issuer: "fleetedge", Audience: "rider-api"})
	svc, err := account.NewService(account.Config{Store: accountpg.New(db.Pool), Hasher: h, Tokens: iss, Keyring: kr})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.SignUp(context.Background(), ana(), client); err != nil {
		b.Fatal(err)
	}
	return svc
}

// BenchmarkLogin measures password logins (argon2id m=64 MiB t=3 p=2, session insert, JWT)
// with as many in parallel as GOMAXPROCS: ns/op is the inverse of logins/s.
// The unknown-email and wrong-password variants must cost about the same (no enumeration by
// timing).
func BenchmarkLogin(b *testing.B) {
	svc := benchService(b)
	ctx := context.Background()
	for _, c := range []struct {
		name, email, pw string
		ok              bool
	}{
		{"ok", "ana.garcia@example.com", "correct horse battery", true},
		{"wrong_password", "ana.garcia@example.com", "correct horse batterX", false},
		{"unknown_email", "nobody@example.com", "correct horse battery", false},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _, err := svc.LogIn(ctx, account.Email(c.email), c.pw, client)
					if (err == nil) != c.ok {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkRefresh measures one refresh-token rotation (a transaction with a row lock) plus
// a JWT signature.
func BenchmarkRefresh(b *testing.B) {
	svc := benchService(b)
	ctx := context.Background()
	_, t, err := svc.LogIn(ctx, "ana.garcia@example.com", "correct horse battery", client)
	if err != nil {
		b.Fatal(err)
	}
	tok := t.Refresh
	for b.Loop() {
		nt, err := svc.Refresh(ctx, tok, client)
		if err != nil {
			b.Fatal(err)
		}
		tok = nt.Refresh
	}
}

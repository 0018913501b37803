package accountpg_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/cloud/internal/account"
	"github.com/fleetedge/fleetedge/cloud/internal/accountpg"
	"github.com/fleetedge/fleetedge/cloud/internal/authtoken"
	"github.com/fleetedge/fleetedge/cloud/internal/fieldcrypt"
	"github.com/fleetedge/fleetedge/cloud/internal/pgstore/pgstoretest"
	"github.com/fleetedge/fleetedge/shared/pgtest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	db    *pgtest.DB
	store *accountpg.Store
	svc   *account.Service
	clock *clock
	kr    *fieldcrypt.Keyring
	hash  *account.Hasher
}

func fastParams() account.Argon2Params {
	return account.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := pgstoretest.New(t)
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	kr, err := fieldcrypt.NewKeyring("p1", map[string][]byte{"p1": bytes.Repeat([]byte{7}, fieldcrypt.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := account.NewHasher(fastParams(), 4)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := authtoken.NewKeyset("k1", map[string][]byte{"k1": bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := authtoken.NewIssuer(ks, authtoken.Config{Issuer: "fleetedge", Audience: "rider-api", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	store := accountpg.New(db.Pool)
	svc, err := account.NewService(account.Config{Store: store, Hasher: h, Tokens: iss, Keyring: kr, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: db, store: store, svc: svc, clock: c, kr: kr, hash: h}
}

var client = account.Client{UserAgent: "test/1.0", IP: netip.MustParseAddr("192.0.2.10")}

func ana() account.SignUp {
	return account.SignUp{FirstName: " Ana ", LastName: "García", Email: "  Ana.Garcia@Example.COM", Password: "correct horse battery", Phone: "+34 600 111 222"}
}

func TestSignUpLoginProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r, tok, err := e.svc.SignUp(ctx, ana(), client)
	if err != nil {
		t.Fatal(err)
	}
	if r.Email != "ana.garcia@example.com" || r.FirstName != "Ana" || r.Phone != "+34600111222" || !r.HasPassword || r.Status != account.StatusActive {
		t.Fatalf("rider %+v", r)
	}
	if tok.Access == "" || len(tok.Refresh) != authtoken.RefreshTokenLen {
		t.Fatalf("tokens %+v", tok)
	}
	// Stored: argon2id hash, sealed phone, hashed refresh token.
	var hash string
	var phoneCT []byte
	if err := e.db.Pool.QueryRow(ctx, `SELECT password_hash, phone_ciphertext FROM riders WHERE id = $1`, r.ID).Scan(&hash, &phoneCT); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix([]byte(hash), []byte("$argon2id$")) || bytes.Contains(phoneCT, []byte("600111222")) {
		t.Fatalf("stored hash %q / phone not sealed", hash)
	}
	var n int
	if err := e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM rider_sessions WHERE rider_id = $1 AND ip = '192.0.2.10' AND user_agent = 'test/1.0'`, r.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sessions %d %v", n, err)
	}

	email, _ := account.ParseEmail("ANA.GARCIA@example.com")
	r2, _, err := e.svc.LogIn(ctx, email, "correct horse battery", client)
	if err != nil || r2.ID != r.ID {
		t.Fatalf("login: %+v %v", r2, err)
	}
	for name, c := range map[string]struct{ email, pw string }{
		"wrong password": {"ana.garcia@example.com", "correct horse batterX"},
		"unknown email":  {"nobody@example.com", "correct horse battery"},
	} {
		if _, _, err := e.svc.LogIn(ctx, account.Email(c.email), c.pw, client); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Errorf("%s: %v", name, err)
		}
	}

	first, phone := "Anita", ""
	up, err := e.svc.UpdateProfile(ctx, r.ID, account.ProfileUpdate{FirstName: &first, Phone: &phone})
	if err != nil || up.FirstName != "Anita" || up.LastName != "García" || up.Phone != "" {
		t.Fatalf("update: %+v %v", up, err)
	}
	newPhone := "+34 611 222 333"
	if up, err = e.svc.UpdateProfile(ctx, r.ID, account.ProfileUpdate{Phone: &newPhone}); err != nil || up.Phone != "+34611222333" || up.FirstName != "Anita" {
		t.Fatalf("update phone: %+v %v", up, err)
	}
	bad := "+12"
	if _, err := e.svc.UpdateProfile(ctx, r.ID, account.ProfileUpdate{Phone: &bad}); !errors.Is(err, account.ErrInvalidPhone) {
		t.Fatalf("bad phone: %v", err)
	}
	if _, err := e.svc.Profile(ctx, "not-a-uuid"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("profile of junk id: %v", err)
	}
}

func TestEmailUniqueWhateverTheCase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, _, err := e.svc.SignUp(ctx, ana(), client); err != nil {
		t.Fatal(err)
	}
	again := ana()
	again.Email = "ANA.GARCIA@EXAMPLE.COM"
	if _, _, err := e.svc.SignUp(ctx, again, client); !errors.Is(err, account.ErrEmailTaken) {
		t.Fatalf("duplicate: %v", err)
	}
	// The database backs this up even for input that skipped normalisation.
	now := e.clock.Now()
	raw := account.Record{ID: "00000000-0000-4000-8000-000000000001", FirstName: "X", LastName: "Y", Email: "Ana.GARCIA@example.com",
		Status: account.StatusActive, CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateRider(ctx, raw); !errors.Is(err, account.ErrEmailTaken) {
		t.Fatalf("raw duplicate: %v", err)
	}
}

func TestConcurrentSignUpsSameEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	emails := []string{"Race@Example.com", "race@EXAMPLE.com", "RACE@example.COM", "race@example.com"}
	errs := make([]error, len(emails))
	var wg sync.WaitGroup
	for i, em := range emails {
		wg.Go(func() {
			in := ana()
			in.Email = em
			_, _, errs[i] = e.svc.SignUp(ctx, in, client)
		})
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, account.ErrEmailTaken):
			t.Errorf("%s: %v", emails[i], err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d sign-ups won, want exactly 1 (%v)", wins, errs)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, t0, err := e.svc.SignUp(ctx, ana(), client)
	if err != nil {
		t.Fatal(err)
	}
	t1, err := e.svc.Refresh(ctx, t0.Refresh, client)
	if err != nil {
		t.Fatal(err)
	}
	if t1.Refresh == t0.Refresh || t1.Access == "" {
		t.Fatal("refresh token not rotated")
	}
	t2, err := e.svc.Refresh(ctx, t1.Refresh, client)
	if err != nil {
		t.Fatal(err)
	}
	// An attacker replays t0: the whole family dies, including the legitimate t2.
	if _, err := e.svc.Refresh(ctx, t0.Refresh, client); !errors.Is(err, account.ErrRefreshReused) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := e.svc.Refresh(ctx, t2.Refresh, client); !errors.Is(err, account.ErrRefreshInvalid) {
		t.Fatalf("family member after reuse: %v", err)
	}
	var live int
	if err := e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM rider_sessions WHERE revoked_at IS NULL`).Scan(&live); err != nil || live != 0 {
		t.Fatalf("live sessions after reuse: %d %v", live, err)
	}
	for _, junk := range []string{"", "x", "' OR 1=1 --"} {
		if _, err := e.svc.Refresh(ctx, junk, client); !errors.Is(err, account.ErrRefreshInvalid) {
			t.Errorf("junk %q: %v", junk, err)
		}
	}
}

func TestConcurrentRefreshOneWins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, t0, err := e.svc.SignUp(ctx, ana(), client)
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = e.svc.Refresh(ctx, t0.Refresh, client) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, account.ErrRefreshReused) && !errors.Is(err, account.ErrRefreshInvalid) {
			t.Fatalf("unexpected: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent refreshes succeeded, want 1: %v", ok, errs)
	}
}

func TestRefreshExpiryLogoutAndOtherFamilies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, phone, err := e.svc.SignUp(ctx, ana(), client)
	if err != nil {
		t.Fatal(err)
	}
	_, laptop, err := e.svc.LogIn(ctx, "ana.garcia@example.com", "correct horse battery", client)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.LogOut(ctx, phone.Refresh); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Refresh(ctx, phone.Refresh, client); !errors.Is(err, account.ErrRefreshInvalid) {
		t.Fatalf("after logout: %v", err)
	}
	if err := e.svc.LogOut(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, account.ErrRefreshInvalid) {
		t.Fatalf("logout unknown: %v", err)
	}
	// The other device's family is untouched, until its token expires.
	l2, err := e.svc.Refresh(ctx, laptop.Refresh, client)
	if err != nil {
		t.Fatalf("other family: %v", err)
	}
	e.clock.Add(account.DefaultRefreshTTL + time.Second)
	if _, err := e.svc.Refresh(ctx, l2.Refresh, client); !errors.Is(err, account.ErrRefreshInvalid) {
		t.Fatalf("expired: %v", err)
	}
	// A session created now survives the purge; the expired ones go.
	if _, _, err := e.svc.LogIn(ctx, "ana.garcia@example.com", "correct horse battery", client); err != nil {
		t.Fatal(err)
	}
	var total int
	if err := e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM rider_sessions`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	n, err := e.svc.PurgeExpiredSessions(ctx)
	if err != nil || n != int64(total-1) {
		t.Fatalf("purged %d of %d: %v", n, total, err)
	}
}

func TestSuspendedRider(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r, tok, err := e.svc.SignUp(ctx, ana(), client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Pool.Exec(ctx, `UPDATE riders SET status = 'suspended' WHERE id = $1`, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.LogIn(ctx, "ana.garcia@example.com", "correct horse battery", client); !errors.Is(err, account.ErrSuspended) {
		t.Fatalf("login: %v", err)
	}
	// A wrong password for a suspended rider says nothing about the suspension.
	if _, _, err := e.svc.LogIn(ctx, "ana.garcia@example.com", "wrong password!!", client); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := e.svc.Refresh(ctx, tok.Refresh, client); !errors.Is(err, account.ErrRefreshInvalid) {
		t.Fatalf("refresh: %v", err)
	}
}

func TestDeleteAnonymises(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r, tok, err := e.svc.SignUp(ctx, ana(), client)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.LinkIdentity(ctx, r.ID, account.Identity{Provider: "google", Subject: "g-1", Email: "ana.garcia@example.com", EmailVerified: true}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	var first, email, status string
	var hash *string
	var phone []byte
	var deletedAt *time.Time
	if err := e.db.Pool.QueryRow(ctx, `SELECT first_name, email, password_hash, phone_ciphertext, status, deleted_at FROM riders WHERE id = $1`, r.ID).
		Scan(&first, &email, &hash, &phone, &status, &deletedAt); err != nil {
		t.Fatal(err)
	}
	if first != "deleted" || email != "deleted+"+r.ID+"@deleted.invalid" || hash != nil || phone != nil || status != "deleted" || deletedAt == nil {
		t.Fatalf("not anonymised: %s %s %v %v %s %v", first, email, hash, phone, status, deletedAt)
	}
	var ids, sessions int
	if err := e.db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM rider_identities), (SELECT count(*) FROM rider_sessions)`).Scan(&ids, &sessions); err != nil || ids+sessions != 0 {
		t.Fatalf("identities %d sessions %d %v", ids, sessions, err)
	}
	if _, _, err := e.svc.LogIn(ctx, "ana.garcia@example.com", "correct horse battery", client); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("login after delete: %v", err)
	}
	if _, err := e.svc.Refresh(ctx, tok.Refresh, client); !errors.Is(err, account.ErrRefreshInvalid) {
		t.Fatalf("refresh after delete: %v", err)
	}
	if _, err := e.svc.Profile(ctx, r.ID); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("profile after delete: %v", err)
	}
	if err := e.svc.Delete(ctx, r.ID); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	// The address is free again.
	if _, _, err := e.svc.SignUp(ctx, ana(), client); err != nil {
		t.Fatalf("sign up again: %v", err)
	}
}

func TestRehashOnLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r, _, err := e.svc.SignUp(ctx, ana(), client)
	if err != nil {
		t.Fatal(err)
	}
	stronger, err := account.NewHasher(account.Argon2Params{MemoryKiB: 2048, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := authtoken.NewKeyset("k1", map[string][]byte{"k1": bytes.Repeat([]byte{1}, 32)})
	iss, _ := authtoken.NewIssuer(ks, authtoken.Config{Issuer: "fleetedge", Audience: "rider-api", Now: e.clock.Now})
	svc2, err := account.NewService(account.Config{Store: e.store, Hasher: stronger, Tokens: iss, Keyring: e.kr, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc2.LogIn(ctx, "ana.garcia@example.com", "correct horse battery", client); err != nil {
		t.Fatal(err)
	}
	var hash string
	if err := e.db.Pool.QueryRow(ctx, `SELECT password_hash FROM riders WHERE id = $1`, r.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if stronger.NeedsRehash(hash) {
		t.Fatalf("hash not upgraded: %s", hash[:30])
	}
}

func TestLoginWithIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r, _, err := e.svc.SignUp(ctx, ana(), client)
	if err != nil {
		t.Fatal(err)
	}
	// Unverified email matching an account: refused, nothing linked.
	unverified := account.Identity{Provider: "google", Subject: "g-1", Email: "ana.garcia@example.com", EmailVerified: false}
	if _, _, _, err := e.svc.LoginWithIdentity(ctx, unverified, client); !errors.Is(err, account.ErrEmailUnverified) {
		t.Fatalf("unverified: %v", err)
	}
	var n int
	if err := e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM rider_identities`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("identity linked from an unverified email: %d %v", n, err)
	}
	// Verified: linked to the existing rider.
	verified := unverified
	verified.EmailVerified = true
	verified.Email = "ANA.garcia@example.com"
	got, tok, created, err := e.svc.LoginWithIdentity(ctx, verified, client)
	if err != nil || created || got.ID != r.ID || tok.Access == "" {
		t.Fatalf("verified link: %+v created=%v %v", got, created, err)
	}
	// Next time the identity alone logs in, even if the provider's email changed.
	verified.Email, verified.EmailVerified = "other@example.com", false
	if got, _, _, err := e.svc.LoginWithIdentity(ctx, verified, client); err != nil || got.ID != r.ID {
		t.Fatalf("known identity: %+v %v", got, err)
	}
	// A new verified email creates a rider without a password.
	nu := account.Identity{Provider: "google", Subject: "g-2", Email: "luis@example.com", EmailVerified: true, FirstName: "Luis", LastName: "Pérez"}
	got, _, created, err = e.svc.LoginWithIdentity(ctx, nu, client)
	if err != nil || !created || got.FirstName != "Luis" || got.HasPassword || got.Email != "luis@example.com" {
		t.Fatalf("new: %+v created=%v %v", got, created, err)
	}
	// That rider cannot log in with any password (dummy verify, same error as a wrong one).
	if _, _, err := e.svc.LogIn(ctx, "luis@example.com", "correct horse battery", client); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("password login of an OIDC-only rider: %v", err)
	}
	// Unverified and unknown: refused too (no squatting an address).
	if _, _, _, err := e.svc.LoginWithIdentity(ctx, account.Identity{Provider: "google", Subject: "g-3", Email: "new@example.com"}, client); !errors.Is(err, account.ErrEmailUnverified) {
		t.Fatalf("unverified new: %v", err)
	}
}

func TestConcurrentFirstIdentityLogins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	id := account.Identity{Provider: "google", Subject: "g-race", Email: "race@example.com", EmailVerified: true, FirstName: "R"}
	const n = 4
	riders := make([]string, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var r account.Rider
			r, _, created[i], errs[i] = e.svc.LoginWithIdentity(ctx, id, client)
			riders[i] = r.ID
		})
	}
	wg.Wait()
	creations := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("login %d: %v", i, errs[i])
		}
		if riders[i] != riders[0] {
			t.Fatalf("different riders: %v", riders)
		}
		if created[i] {
			creations++
		}
	}
	if creations != 1 {
		t.Fatalf("%d logins report creating the account", creations)
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	r, phone, err := e.svc.SignUp(ctx, ana(), client)
	if err != nil {
		t.Fatal(err)
	}
	_, laptop, err := e.svc.LogIn(ctx, "ana.garcia@example.com", "correct horse battery", client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ChangePassword(ctx, r.ID, "wrong password!", "a brand new secret", client); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("wrong current: %v", err)
	}
	if _, err := e.svc.ChangePassword(ctx, r.ID, "correct horse battery", "short", client); !errors.Is(err, account.ErrWeakPassword) {
		t.Fatalf("weak new: %v", err)
	}
	tok, err := e.svc.ChangePassword(ctx, r.ID, "correct horse battery", "a brand new secret", client)
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range []string{phone.Refresh, laptop.Refresh} {
		if _, err := e.svc.Refresh(ctx, old, client); !errors.Is(err, account.ErrRefreshInvalid) {
			t.Fatalf("old session survived the password change: %v", err)
		}
	}
	if _, err := e.svc.Refresh(ctx, tok.Refresh, client); err != nil {
		t.Fatalf("new session: %v", err)
	}
	if _, _, err := e.svc.LogIn(ctx, "ana.garcia@example.com", "correct horse battery", client); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("old password: %v", err)
	}
	if _, _, err := e.svc.LogIn(ctx, "ana.garcia@example.com", "a brand new secret", client); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// An OIDC-only rider cannot set a password this way.
	o, _, _, err := e.svc.LoginWithIdentity(ctx, account.Identity{Provider: "google", Subject: "g-9", Email: "o@example.com", EmailVerified: true}, client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ChangePassword(ctx, o.ID, "", "a brand new secret", client); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("oidc-only rider: %v", err)
	}
}

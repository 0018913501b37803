package fieldui

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
)

func technicians(t *testing.T, version int64, ts ...link.Technician) []byte {
	t.Helper()
	b, err := json.Marshal(link.TechniciansDoc{V: link.Version, City: "test", Version: version,
		Updated: time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC), Technicians: ts})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The cloud's document (link.TechniciansDoc) is read by the same parser as
// the local file: what the cloud link stores is what the gateway loads at
// its next start.
func TestParseAccountsFromCloud(t *testing.T) {
	h := hash(t, "cloud-pw")
	doc, err := ParseAccounts(technicians(t, 7, link.Technician{Username: "carla", Name: "Carla", PasswordHash: h},
		link.Technician{Username: "dan", PasswordHash: h}))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Version != 7 || len(doc.Accounts) != 2 || doc.Accounts[0].Name != "Carla" || doc.Accounts[1].Disabled {
		t.Fatalf("converted %+v", doc)
	}
	acc, err := NewAccounts("", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Apply(doc); err != nil {
		t.Fatal(err)
	}
	if p, ok := acc.Verify("carla", "cloud-pw"); !ok || p.Name != "Carla" || p.BreakGlass {
		t.Fatalf("cloud account does not log in: %+v %v", p, ok)
	}
	for name, data := range map[string][]byte{
		"plain password": technicians(t, 1, link.Technician{Username: "x", PasswordHash: "secret"}),
		"no version":     technicians(t, 0, link.Technician{Username: "x", PasswordHash: h}),
		"unknown field":  []byte(`{"v":1,"city":"test","version":1,"updated":"2026-11-25T15:00:00Z","technicians":[],"extra":1}`),
		"bad username":   technicians(t, 1, link.Technician{Username: "X Y", PasswordHash: h}),
		"wrong type":     []byte(`{"v":1,"city":"test","version":1,"technicians":{}}`),
	} {
		if _, err := ParseAccounts(data); !errors.Is(err, ErrAccounts) {
			t.Errorf("%s: %v, want ErrAccounts", name, err)
		}
	}
}

// Passwords are NFC-normalised before hashing and checking, as the cloud's
// hasher does: "é" composed or decomposed is the same password.
func TestPasswordNFC(t *testing.T) {
	acc, err := NewAccounts("rescue", hash(t, "caf\u00e9-d\u00e9p\u00f4t"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := acc.Verify("rescue", "cafe\u0301-de\u0301po\u0302t"); !ok {
		t.Fatal("decomposed accents do not verify")
	}
	if _, ok := acc.Verify("rescue", "cafe-depot"); ok {
		t.Fatal("accents dropped still verify")
	}
}

// Password checks are bounded: MaxConcurrentVerify at once, MaxWaitingVerify
// waiting until their context ends, the rest refused at once; the login
// answers 503 with Retry-After instead of queueing argon2id work without end.
func TestVerifyBounded(t *testing.T) {
	f := newFixture(t, Config{})
	for range MaxConcurrentVerify { // every slot taken, as by long checks
		f.acc.sem <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, ok, err := f.acc.Check(ctx, "ana", "ana-secret"); ok || !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no slot until the deadline: ok=%v err=%v", ok, err)
	}
	f.acc.waiting.Add(MaxWaitingVerify)
	start := time.Now()
	if _, _, err := f.acc.Check(t.Context(), "ana", "ana-secret"); !errors.Is(err, ErrBusy) || time.Since(start) > time.Second {
		t.Fatalf("waiting room full: %v after %v, want ErrBusy at once", err, time.Since(start))
	}
	c := f.client(t)
	resp, body := c.login("ana", "ana-secret")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("login while busy: %d %s (Retry-After %q)", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	f.acc.waiting.Add(-MaxWaitingVerify)
	done := make(chan bool)
	go func() {
		_, ok, err := f.acc.Check(t.Context(), "ana", "ana-secret")
		done <- ok && err == nil
	}()
	<-f.acc.sem // a slot frees: the waiting check runs
	if !<-done {
		t.Fatal("waiting check failed after a slot freed")
	}
	<-f.acc.sem
	c.mustLogin("ana", "ana-secret")
}

// A technician removed, disabled, or whose password was reset loses their
// sessions at the next request (and their live streams at the next
// keep-alive); the others keep theirs; the break-glass account is unaffected.
func TestSessionsEndWithAccount(t *testing.T) {
	f := newFixture(t, Config{})
	ana, bo, carla, admin := f.client(t), f.client(t), f.client(t), f.client(t)
	h := hash(t, "carla-pw")
	if err := f.acc.Apply(&AccountsDoc{V: 1, Accounts: []AccountEntry{
		{Username: "ana", PasswordHash: stampOf(t, f.acc, "ana")},
		{Username: "bo", PasswordHash: stampOf(t, f.acc, "bo")},
		{Username: "carla", PasswordHash: h},
	}}); err != nil {
		t.Fatal(err)
	}
	ana.mustLogin("ana", "ana-secret")
	bo.mustLogin("bo", "bo-secret")
	carla.mustLogin("carla", "carla-pw")
	admin.mustLogin("admin", "break-glass-pw")
	status := func(c *client) int {
		resp, _ := c.do("GET", "/ui/api/session", "", nil)
		return resp.StatusCode
	}
	// Same hashes re-applied (a replayed document): nobody is logged out.
	cur := *f.acc.table.Load()
	same := &AccountsDoc{V: 1}
	for _, u := range []string{"ana", "bo", "carla"} {
		same.Accounts = append(same.Accounts, AccountEntry{Username: u, PasswordHash: cur[u].stamp})
	}
	if err := f.acc.Apply(same); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{ana, bo, carla, admin} {
		if s := status(c); s != http.StatusOK {
			t.Fatalf("after replay: %d", s)
		}
	}
	// The cloud's next document: ana removed, bo's password reset, carla kept.
	newBo := hash(t, "bo-new")
	install, err := f.acc.Prepare(AccountsFromLink(&link.TechniciansDoc{V: 1, City: "test", Version: 2, Technicians: []link.Technician{
		{Username: "bo", PasswordHash: newBo}, {Username: "carla", PasswordHash: h},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	if s := status(ana); s != http.StatusOK {
		t.Fatalf("prepared but not installed: ana %d", s)
	}
	install()
	for name, tc := range map[string]struct {
		c    *client
		want int
	}{"ana (removed)": {ana, 401}, "bo (password reset)": {bo, 401}, "carla": {carla, 200}, "break-glass": {admin, 200}} {
		if s := status(tc.c); s != tc.want {
			t.Errorf("%s: %d, want %d", name, s, tc.want)
		}
	}
	if resp, _ := ana.login("ana", "ana-secret"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("removed account logs in: %d", resp.StatusCode)
	}
	if resp, _ := bo.login("bo", "bo-secret"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("old password after reset: %d", resp.StatusCode)
	}
	bo.mustLogin("bo", "bo-new")
	// Disabled in a local file: same as removed.
	if err := f.acc.Apply(&AccountsDoc{V: 1, Accounts: []AccountEntry{{Username: "carla", PasswordHash: h, Disabled: true}}}); err != nil {
		t.Fatal(err)
	}
	if s := status(carla); s != http.StatusUnauthorized {
		t.Errorf("disabled: %d", s)
	}
	if resp, body := carla.login("carla", "carla-pw"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "wrong username or password") {
		t.Errorf("disabled account logs in: %d %s", resp.StatusCode, body)
	}
	if _, err := f.acc.Prepare(nil); !errors.Is(err, ErrAccounts) {
		t.Errorf("nil document: %v", err)
	}
}

// stampOf returns an account's stored hash.
func stampOf(t *testing.T, acc *Accounts, user string) string {
	t.Helper()
	a, ok := (*acc.table.Load())[user]
	if !ok {
		t.Fatalf("no account %s", user)
	}
	return a.stamp
}

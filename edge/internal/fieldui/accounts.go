package fieldui

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// DocAccounts is the configstore name of the technicians' accounts document:
// the gateway stores the local file under it, and the cloud link stores the
// link.TechniciansDoc it pushes under the same name (link.ConfigTechnicians;
// then Accounts.Apply), so a gateway restarts with the last accounts while
// the cloud is unreachable. ParseAccounts reads both forms.
const DocAccounts = link.ConfigTechnicians

// AccountsVersion is the schema version (field "v") of AccountsDoc.
const AccountsVersion = 1

// ErrAccounts reports an unusable accounts document.
var ErrAccounts = errors.New("fieldui: invalid accounts document")

// ErrBusy means a password check could not start in time: too many logins
// were already running or waiting (argon2id is deliberately expensive, so
// the gateway bounds them instead of running out of memory).
var ErrBusy = errors.New("fieldui: too many logins in progress")

// AccountsDoc is the technicians' accounts: the local accounts file and the
// document the cloud pushes. Only argon2id hashes travel, never passwords.
type AccountsDoc struct {
	V        int            `json:"v"`
	Version  uint64         `json:"version,omitempty"`
	Updated  time.Time      `json:"updated,omitzero"`
	Accounts []AccountEntry `json:"accounts"`
}

// AccountEntry is one technician.
type AccountEntry struct {
	Username string `json:"username"`
	Name     string `json:"name,omitempty"`
	// PasswordHash is an argon2id PHC string (HashPassword; the cloud's
	// account hashes have the same format).
	PasswordHash string `json:"password_hash"`
	Disabled     bool   `json:"disabled,omitempty"`
}

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// ParseAccounts decodes and validates an accounts document: the local file
// form (AccountsDoc) or the cloud's link.TechniciansDoc (recognised by its
// "technicians" member; converted with AccountsFromLink). Unknown fields,
// duplicate or malformed usernames and malformed hashes are errors.
func ParseAccounts(data []byte) (*AccountsDoc, error) {
	var probe struct {
		Technicians json.RawMessage `json:"technicians"`
	}
	if json.Unmarshal(data, &probe) == nil && probe.Technicians != nil {
		var ld link.TechniciansDoc
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ld); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrAccounts, err)
		}
		if err := ld.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAccounts, err)
		}
		doc := AccountsFromLink(&ld)
		if _, err := doc.table(); err != nil {
			return nil, err
		}
		return doc, nil
	}
	var doc AccountsDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAccounts, err)
	}
	if _, err := doc.table(); err != nil {
		return nil, err
	}
	return &doc, nil
}

// AccountsFromLink converts the cloud's technicians document (already
// validated by its Validate) into the accounts the UI applies. Every listed
// technician is active: the cloud leaves disabled ones out.
func AccountsFromLink(d *link.TechniciansDoc) *AccountsDoc {
	out := &AccountsDoc{V: AccountsVersion, Updated: d.Updated, Accounts: make([]AccountEntry, 0, len(d.Technicians))}
	if d.Version > 0 {
		out.Version = uint64(d.Version)
	}
	for _, t := range d.Technicians {
		out.Accounts = append(out.Accounts, AccountEntry{Username: t.Username, Name: t.Name, PasswordHash: t.PasswordHash})
	}
	return out
}

func (d *AccountsDoc) table() (map[string]account, error) {
	if d.V != AccountsVersion {
		return nil, fmt.Errorf("%w: version v=%d, want %d", ErrAccounts, d.V, AccountsVersion)
	}
	t := make(map[string]account, len(d.Accounts))
	for i, a := range d.Accounts {
		if !usernameRE.MatchString(a.Username) {
			return nil, fmt.Errorf("%w: account %d: username %q (want 1-64 of a-z 0-9 . _ @ -)", ErrAccounts, i, a.Username)
		}
		if _, dup := t[a.Username]; dup {
			return nil, fmt.Errorf("%w: account %q listed twice", ErrAccounts, a.Username)
		}
		h, err := parsePHC(a.PasswordHash)
		if err != nil {
			return nil, fmt.Errorf("%w: account %q: %w", ErrAccounts, a.Username, err)
		}
		t[a.Username] = account{name: a.Username, display: a.Name, hash: h, stamp: a.PasswordHash, disabled: a.Disabled}
	}
	return t, nil
}

type account struct {
	name, display string
	hash          phc
	// stamp is the PHC string the session was opened with: a password reset
	// changes it, which ends the account's sessions.
	stamp      string
	disabled   bool
	breakGlass bool
}

// Principal is an authenticated technician.
type Principal struct {
	Username string
	Name     string
	// BreakGlass is the local emergency account from the gateway's config.
	BreakGlass bool
	// stamp is the account's password hash at login (see Accounts.Valid).
	stamp string
}

// Concurrency bounds of password checks.
const (
	// MaxConcurrentVerify argon2id computations run at once (64 MiB each with
	// the default costs).
	MaxConcurrentVerify = 2
	// MaxWaitingVerify logins may wait for a slot; beyond it ErrBusy at once.
	MaxWaitingVerify = 16
)

// Accounts holds the technicians who may log in: the accounts document
// (swapped atomically by Apply) plus the optional break-glass account from
// config. Safe for concurrent use. Password checks are argon2id (64 MiB
// each by default), so at most MaxConcurrentVerify run at once, at most
// MaxWaitingVerify wait (until their context ends), others get ErrBusy.
type Accounts struct {
	table      atomic.Pointer[map[string]account]
	breakGlass *account
	sem        chan struct{}
	waiting    atomic.Int32

	dummyOnce sync.Once
	dummy     phc
}

// NewAccounts returns an empty store with the break-glass account user/hash
// (both empty: none).
func NewAccounts(breakGlassUser, breakGlassHash string) (*Accounts, error) {
	a := &Accounts{sem: make(chan struct{}, MaxConcurrentVerify)}
	empty := map[string]account{}
	a.table.Store(&empty)
	if (breakGlassUser == "") != (breakGlassHash == "") {
		return nil, fmt.Errorf("%w: break-glass user and hash go together", ErrAccounts)
	}
	if breakGlassUser != "" {
		if !usernameRE.MatchString(breakGlassUser) {
			return nil, fmt.Errorf("%w: break-glass username %q", ErrAccounts, breakGlassUser)
		}
		h, err := parsePHC(breakGlassHash)
		if err != nil {
			return nil, fmt.Errorf("%w: break-glass hash: %w", ErrAccounts, err)
		}
		a.breakGlass = &account{name: breakGlassUser, display: "break-glass", hash: h, stamp: breakGlassHash, breakGlass: true}
	}
	return a, nil
}

// dummyHash is a throw-away hash with the default costs: unknown users are
// checked against it so that a login for a missing account costs as much as
// one with a wrong password. Made on first use.
func (a *Accounts) dummyHash() phc {
	a.dummyOnce.Do(func() {
		salt := make([]byte, saltLen)
		_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go ≥ 1.24)
		p := DefaultArgon2
		a.dummy = phc{p: p, salt: salt, key: make([]byte, keyLen)}
	})
	return a.dummy
}

// Apply validates doc and makes it the accounts in force (the break-glass
// account stays). Existing sessions of removed or disabled accounts, and of
// accounts whose password changed, end at their next request.
func (a *Accounts) Apply(doc *AccountsDoc) error {
	install, err := a.Prepare(doc)
	if err != nil {
		return err
	}
	install()
	return nil
}

// Prepare validates doc and returns the function that puts it in force (an
// atomic swap that cannot fail), for apply paths that must persist the
// document between the check and the swap (the cloud link).
func (a *Accounts) Prepare(doc *AccountsDoc) (install func(), err error) {
	if doc == nil {
		return nil, fmt.Errorf("%w: nil document", ErrAccounts)
	}
	t, err := doc.table()
	if err != nil {
		return nil, err
	}
	return func() { a.table.Store(&t) }, nil
}

// Len returns the number of accounts of the document (without break-glass).
func (a *Accounts) Len() int { return len(*a.table.Load()) }

func (a *Accounts) lookup(user string) (account, bool) {
	if a.breakGlass != nil && user == a.breakGlass.name {
		return *a.breakGlass, true
	}
	acc, ok := (*a.table.Load())[user]
	return acc, ok
}

// Active reports whether user may still act (exists, not disabled).
func (a *Accounts) Active(user string) bool {
	acc, ok := a.lookup(user)
	return ok && !acc.disabled
}

// Valid reports whether a session of p may go on: the account still exists,
// is not disabled, and has the password it logged in with (a reset in the
// cloud ends the technician's sessions).
func (a *Accounts) Valid(p Principal) bool {
	acc, ok := a.lookup(p.Username)
	return ok && !acc.disabled && acc.stamp == p.stamp
}

// Verify is Check for callers without a context (tools, tests): it waits
// for a check slot without a deadline; a busy store reports a failed check.
func (a *Accounts) Verify(user, password string) (Principal, bool) {
	p, ok, err := a.Check(context.Background(), user, password)
	return p, ok && err == nil
}

// Check checks user's password. Unknown and disabled accounts fail after
// the same work as a wrong password (ok false, err nil). err is ErrBusy
// (wrapping ctx's error when it ended first) when no check slot was free in
// time: the password was not checked.
func (a *Accounts) Check(ctx context.Context, user, password string) (p Principal, ok bool, err error) {
	if err := a.acquire(ctx); err != nil {
		return Principal{}, false, err
	}
	defer func() { <-a.sem }()
	password = normalizePassword(password)
	acc, found := a.lookup(user)
	if !found {
		a.dummyHash().matches(password)
		return Principal{}, false, nil
	}
	if !acc.hash.matches(password) || acc.disabled {
		return Principal{}, false, nil
	}
	return Principal{Username: acc.name, Name: acc.display, BreakGlass: acc.breakGlass, stamp: acc.stamp}, true, nil
}

// acquire takes a check slot: at once when one is free, else waiting (at
// most MaxWaitingVerify waiters) until one frees or ctx ends.
func (a *Accounts) acquire(ctx context.Context) error {
	select {
	case a.sem <- struct{}{}:
		return nil
	default:
	}
	if a.waiting.Add(1) > MaxWaitingVerify {
		a.waiting.Add(-1)
		return ErrBusy
	}
	defer a.waiting.Add(-1)
	select {
	case a.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

package fieldui

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// DocAccounts is the configstore name of the technicians' accounts document:
// the gateway stores the local file under it, and the cloud link will store
// the accounts it pushes under the same name (then call Accounts.Apply), so a
// gateway restarts with the last accounts while the cloud is unreachable.
const DocAccounts = "technicians"

// AccountsVersion is the schema version (field "v") of AccountsDoc.
const AccountsVersion = 1

// ErrAccounts reports an unusable accounts document.
var ErrAccounts = errors.New("fieldui: invalid accounts document")

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

// ParseAccounts decodes and validates an accounts document (unknown fields,
// duplicate or malformed usernames and malformed hashes are errors).
func ParseAccounts(data []byte) (*AccountsDoc, error) {
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
		t[a.Username] = account{name: a.Username, display: a.Name, hash: h, disabled: a.Disabled}
	}
	return t, nil
}

type account struct {
	name, display string
	hash          phc
	disabled      bool
	breakGlass    bool
}

// Principal is an authenticated technician.
type Principal struct {
	Username string
	Name     string
	// BreakGlass is the local emergency account from the gateway's config.
	BreakGlass bool
}

// Accounts holds the technicians who may log in: the accounts document
// (swapped atomically by Apply) plus the optional break-glass account from
// config. Safe for concurrent use. Password checks are argon2id (64 MiB
// each by default), so at most two run at once; others wait.
type Accounts struct {
	table      atomic.Pointer[map[string]account]
	breakGlass *account
	sem        chan struct{}

	dummyOnce sync.Once
	dummy     phc
}

// NewAccounts returns an empty store with the break-glass account user/hash
// (both empty: none).
func NewAccounts(breakGlassUser, breakGlassHash string) (*Accounts, error) {
	a := &Accounts{sem: make(chan struct{}, 2)}
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
		a.breakGlass = &account{name: breakGlassUser, display: "break-glass", hash: h, breakGlass: true}
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
// account stays). Existing sessions of removed or disabled accounts end at
// their next request.
func (a *Accounts) Apply(doc *AccountsDoc) error {
	t, err := doc.table()
	if err != nil {
		return err
	}
	a.table.Store(&t)
	return nil
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

// Verify checks user's password. Unknown and disabled accounts fail after
// the same work as a wrong password.
func (a *Accounts) Verify(user, password string) (Principal, bool) {
	a.sem <- struct{}{}
	defer func() { <-a.sem }()
	acc, ok := a.lookup(user)
	if !ok {
		a.dummyHash().matches(password)
		return Principal{}, false
	}
	if !acc.hash.matches(password) || acc.disabled {
		return Principal{}, false
	}
	return Principal{Username: acc.name, Name: acc.display, BreakGlass: acc.breakGlass}, true
}

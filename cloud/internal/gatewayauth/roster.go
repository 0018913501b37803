package gatewayauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nats-io/nkeys"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// ErrRoster is wrapped by every error about the roster file or its entries.
var ErrRoster = errors.New("invalid nats roster")

// maxRosterBytes bounds the file read: tens of thousands of gateways fit comfortably.
const maxRosterBytes = 16 << 20

// Gateway is one city gateway allowed on the bus.
type Gateway struct {
	ID   link.GatewayID `json:"id"`
	City link.CityID    `json:"city"`
	// NKey is the gateway's public user nkey ("U…", 56 characters). Its seed ("SU…") stays
	// on the gateway.
	NKey string `json:"nkey"`
}

// Service is a connection with full rights: another cloud process reaching the embedded
// server over TCP, or an operator tool.
type Service struct {
	Name string `json:"name"`
	NKey string `json:"nkey"`
}

// Roster lists every identity the bus accepts besides the cloud's own in-process connection.
type Roster struct {
	Gateways []Gateway `json:"gateways"`
	Services []Service `json:"services,omitempty"`
}

// Load reads and validates a roster file (JSON, see Roster).
func Load(path string) (Roster, error) {
	f, err := os.Open(path)
	if err != nil {
		return Roster{}, fmt.Errorf("%w: %w", ErrRoster, err)
	}
	defer f.Close() //nolint:errcheck // read-only file; a close error changes nothing read
	r, err := Parse(f)
	if err != nil {
		return Roster{}, fmt.Errorf("roster %s: %w", path, err)
	}
	return r, nil
}

// Parse decodes and validates a roster. Unknown fields are errors: a misspelt "nkey" must
// not silently produce a gateway that cannot connect.
func Parse(r io.Reader) (Roster, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRosterBytes+1))
	if err != nil {
		return Roster{}, fmt.Errorf("%w: read: %w", ErrRoster, err)
	}
	if len(data) > maxRosterBytes {
		return Roster{}, fmt.Errorf("%w: larger than %d bytes", ErrRoster, maxRosterBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var ro Roster
	if err := dec.Decode(&ro); err != nil {
		return Roster{}, fmt.Errorf("%w: %w", ErrRoster, err)
	}
	if dec.More() {
		return Roster{}, fmt.Errorf("%w: trailing data after the JSON object", ErrRoster)
	}
	if err := ro.Validate(); err != nil {
		return Roster{}, err
	}
	return ro, nil
}

// Validate reports every problem, each wrapped in ErrRoster: ids and cities that are not
// subject tokens, keys that are not public user nkeys, duplicate ids or keys.
func (ro Roster) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrRoster}, args...)...))
	}
	ids := make(map[link.GatewayID]bool, len(ro.Gateways))
	keys := make(map[string]string, len(ro.Gateways)+len(ro.Services))
	useKey := func(who, key string) {
		if !nkeys.IsValidPublicUserKey(key) {
			bad("%s: nkey %q is not a public user nkey (U…, 56 characters)", who, shorten(key))
			return
		}
		if prev, dup := keys[key]; dup {
			bad("%s: nkey already used by %s", who, prev)
			return
		}
		keys[key] = who
	}
	for i, g := range ro.Gateways {
		who := fmt.Sprintf("gateway %d (%q)", i, g.ID)
		if _, err := link.ParseGatewayID(string(g.ID)); err != nil {
			bad("%s: %v", who, err)
		} else if ids[g.ID] {
			bad("%s: duplicate gateway id", who)
		}
		ids[g.ID] = true
		if _, err := link.ParseCityID(string(g.City)); err != nil {
			bad("%s: %v", who, err)
		}
		useKey(who, g.NKey)
	}
	names := make(map[string]bool, len(ro.Services))
	for i, s := range ro.Services {
		who := fmt.Sprintf("service %d (%q)", i, s.Name)
		if s.Name == "" || len(s.Name) > 128 {
			bad("%s: name must be 1-128 bytes", who)
		} else if names[s.Name] {
			bad("%s: duplicate service name", who)
		}
		names[s.Name] = true
		useKey(who, s.NKey)
	}
	return errors.Join(errs...)
}

// shorten keeps error messages readable when a whole seed or garbage was pasted as a key;
// it never repeats more than the first 4 characters (a pasted seed must not reach the logs).
func shorten(s string) string {
	if len(s) <= 4 {
		return s
	}
	return s[:4] + "…"
}

// NewKey creates a gateway (or service) identity: the seed the client keeps secret
// ("SU…", for nats.NkeyOptionFromSeed) and the public key for the roster ("U…").
func NewKey() (seed []byte, public string, err error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, "", fmt.Errorf("create nkey: %w", err)
	}
	seed, err = kp.Seed()
	if err != nil {
		return nil, "", fmt.Errorf("nkey seed: %w", err)
	}
	public, err = kp.PublicKey()
	if err != nil {
		return nil, "", fmt.Errorf("nkey public key: %w", err)
	}
	return seed, public, nil
}

package gatewayauth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fleetedge/fleetedge/protocol/link"
)

func key(t *testing.T) (seed []byte, pub string) {
	t.Helper()
	seed, pub, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return seed, pub
}

func TestParse(t *testing.T) {
	seedA, a := key(t)
	_, b := key(t)
	_, c := key(t)
	gw := func(id, city, k string) string { return fmt.Sprintf(`{"id":%q,"city":%q,"nkey":%q}`, id, city, k) }
	tests := []struct {
		name string
		in   string
		want string // substring of the error; "" = valid
	}{
		{"one gateway", `{"gateways":[` + gw("riga-1", "riga", a) + `]}`, ""},
		{"two per city and a service", `{"gateways":[` + gw("riga-1", "riga", a) + `,` + gw("riga-2", "riga", b) + `],"services":[{"name":"ops","nkey":"` + c + `"}]}`, ""},
		{"empty roster", `{"gateways":[]}`, ""},
		{"unknown field", `{"gateways":[{"id":"riga-1","city":"riga","nkeys":"` + a + `"}]}`, "unknown field"},
		{"not json", `gateways: []`, "invalid character"},
		{"trailing data", `{"gateways":[]} {}`, "trailing data"},
		{"seed instead of public key", `{"gateways":[` + gw("riga-1", "riga", string(seedA)) + `]}`, "not a public user nkey"},
		{"garbage key", `{"gateways":[` + gw("riga-1", "riga", "UABC") + `]}`, "not a public user nkey"},
		{"upper-case city", `{"gateways":[` + gw("riga-1", "Riga", a) + `]}`, "city id"},
		{"city with a dot", `{"gateways":[` + gw("riga-1", "ri.ga", a) + `]}`, "city id"},
		{"wildcard gateway", `{"gateways":[` + gw("*", "riga", a) + `]}`, "gateway id"},
		{"duplicate id", `{"gateways":[` + gw("riga-1", "riga", a) + `,` + gw("riga-1", "oslo", b) + `]}`, "duplicate gateway id"},
		{"key shared by two gateways", `{"gateways":[` + gw("riga-1", "riga", a) + `,` + gw("oslo-1", "oslo", a) + `]}`, "already used"},
		{"key shared with a service", `{"gateways":[` + gw("riga-1", "riga", a) + `],"services":[{"name":"ops","nkey":"` + a + `"}]}`, "already used"},
		{"service without name", `{"gateways":[],"services":[{"name":"","nkey":"` + a + `"}]}`, "name must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if !errors.Is(err, ErrRoster) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want ErrRoster containing %q, got %v", tt.want, err)
			}
			if strings.Contains(err.Error(), string(seedA)) {
				t.Fatalf("error repeats a seed: %v", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	_, a := key(t)
	p := filepath.Join(t.TempDir(), "roster.json")
	if err := os.WriteFile(p, []byte(`{"gateways":[{"id":"riga-1","city":"riga","nkey":"`+a+`"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ro, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(ro.Gateways) != 1 || ro.Gateways[0].City != "riga" || ro.Gateways[0].NKey != a {
		t.Fatalf("loaded %+v", ro)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, ErrRoster) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestGrantsConfineToCity checks the grants of one city against every subject another city
// uses: no allow pattern of riga's matches any of oslo's subjects, publish or subscribe.
func TestGrantsConfineToCity(t *testing.T) {
	_, a := key(t)
	riga := GrantsFor(Gateway{ID: "riga-1", City: "riga", NKey: a}, 0)
	if riga.ReplyTTL != DefaultReplyTTL {
		t.Fatalf("default reply ttl %v", riga.ReplyTTL)
	}
	osloKV := "KV_" + link.ConfigBucket("oslo")
	others := []string{
		link.TelemetrySubject("oslo"), link.EventsSubject("oslo"), link.CommandSubject("oslo"),
		link.DeadLetterSubject("riga"), link.DeadLetterSubject("oslo"),
		"$KV." + link.ConfigBucket("oslo") + ".vehicles", "$KV." + link.ConfigBucket("riga") + ".vehicles",
		"$JS.API.STREAM.INFO." + osloKV, "$JS.API.CONSUMER.CREATE." + osloKV + ".x",
		"$JS.API.DIRECT.GET." + osloKV + ".$KV." + link.ConfigBucket("oslo") + ".vehicles",
		"$JS.API.STREAM.INFO." + link.StreamUp, "$JS.API.CONSUMER.CREATE." + link.StreamUp,
		"$JS.API.STREAM.PURGE." + link.StreamUp, "$JS.API.STREAM.DELETE.KV_" + link.ConfigBucket("riga"),
		"$JS.API.STREAM.MSG.DELETE.KV_" + link.ConfigBucket("riga"), "$JS.FC." + osloKV + ".x",
		"_INBOX.abc", InboxPrefix("oslo-1") + ".abc", InboxPrefix("riga-10") + ".abc",
		// A city whose id extends riga's must not be covered by riga's patterns.
		link.TelemetrySubject("riga-old"), "$JS.API.STREAM.INFO.KV_" + link.ConfigBucket("riga-old"),
	}
	for _, allow := range append(append([]string(nil), riga.PublishAllow...), riga.SubscribeAllow...) {
		if !server.IsValidSubject(allow) {
			t.Errorf("invalid subject pattern %q", allow)
		}
		for _, o := range others {
			if server.SubjectMatchesFilter(o, allow) {
				t.Errorf("riga's grant %q covers %q", allow, o)
			}
		}
	}
	p := riga.Permissions()
	if p.Response == nil || p.Response.MaxMsgs != 1 || p.Response.Expires != DefaultReplyTTL {
		t.Fatalf("response permission %+v", p.Response)
	}
	if got := GrantsFor(Gateway{ID: "g", City: "c"}, time.Minute).ReplyTTL; got != time.Minute {
		t.Fatalf("reply ttl %v", got)
	}
}

func TestNkeyUsers(t *testing.T) {
	_, a := key(t)
	_, s := key(t)
	ro := Roster{Gateways: []Gateway{{ID: "riga-1", City: "riga", NKey: a}}, Services: []Service{{Name: "ops", NKey: s}}}
	users := ro.NkeyUsers(0)
	if len(users) != 2 || users[0].Nkey != a || users[0].Permissions == nil || users[1].Nkey != s || users[1].Permissions != nil {
		t.Fatalf("users %+v %+v", users[0], users[1])
	}
}

func TestInboxPrefix(t *testing.T) {
	p := InboxPrefix("riga-1")
	if p != "_INBOX.gw-riga-1" || !server.IsValidSubject(p+".x") {
		t.Fatalf("inbox prefix %q", p)
	}
}

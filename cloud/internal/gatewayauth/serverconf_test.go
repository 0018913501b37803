package gatewayauth

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestWriteServerConfig parses the rendered fragment with nats-server's own config parser and
// checks every user got exactly the embedded server's permissions, in the FLEET account.
func TestWriteServerConfig(t *testing.T) {
	_, a := key(t)
	_, b := key(t)
	_, s := key(t)
	ro := Roster{
		Gateways: []Gateway{{ID: "riga-1", City: "riga", NKey: a}, {ID: "oslo-1", City: "oslo", NKey: b}},
		Services: []Service{{Name: "cloud\ningest", NKey: s}},
	}
	var frag bytes.Buffer
	if err := WriteServerConfig(&frag, ro, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "auth.conf"), frag.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte("port: -1\njetstream { store_dir: \""+filepath.Join(dir, "js")+"\" }\ninclude auth.conf\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server rejects the rendered config: %v\n%s", err, frag.String())
	}
	got := map[string]*server.NkeyUser{}
	for _, u := range opts.Nkeys {
		got[u.Nkey] = u
	}
	if len(got) != 3 {
		t.Fatalf("%d users parsed, want 3", len(got))
	}
	for _, u := range opts.Nkeys {
		if u.Account == nil || u.Account.Name != Account {
			t.Fatalf("user %s in account %v, want %s", u.Nkey, u.Account, Account)
		}
	}
	for _, g := range ro.Gateways {
		want := GrantsFor(g, 5*time.Minute).Permissions()
		if !reflect.DeepEqual(got[g.NKey].Permissions, want) {
			t.Errorf("gateway %s: parsed permissions\n%+v %+v %+v\nwant\n%+v %+v %+v", g.ID,
				got[g.NKey].Permissions.Publish, got[g.NKey].Permissions.Subscribe, got[g.NKey].Permissions.Response,
				want.Publish, want.Subscribe, want.Response)
		}
	}
	if got[s].Permissions != nil {
		t.Errorf("service has permissions %+v, want none", got[s].Permissions)
	}
	if err := WriteServerConfig(&frag, Roster{Gateways: []Gateway{{ID: "x", City: "y", NKey: "bad"}}}, 0); err == nil {
		t.Fatal("an invalid roster was rendered")
	}
}

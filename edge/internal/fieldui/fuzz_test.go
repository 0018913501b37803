package fieldui

import (
	"encoding/json"
	"testing"

	"github.com/fleetedge/fleetedge/protocol/link"
)

// FuzzParseAccounts feeds arbitrary bytes to the accounts parser (the local file and the
// cloud's technicians document share it): it never panics, and what it accepts applies
// and has only valid usernames and hashes within the cost bounds.
func FuzzParseAccounts(f *testing.F) {
	h, err := HashPassword("pw", testArgon)
	if err != nil {
		f.Fatal(err)
	}
	local, _ := json.Marshal(AccountsDoc{V: 1, Version: 2, Accounts: []AccountEntry{{Username: "ana", PasswordHash: h, Disabled: true}}})
	cloud, _ := json.Marshal(link.TechniciansDoc{V: 1, City: "bcn", Version: 3, Technicians: []link.Technician{{Username: "bo", PasswordHash: h}}})
	for _, s := range [][]byte{local, cloud, []byte(`{"technicians":null}`), []byte(`{"v":1,"accounts":[{"username":"a","password_hash":"$argon2id$v=19$m=99999999,t=1,p=1$YWFhYWFhYWE$YWFhYWFhYWFhYWFhYWFhYQ"}]}`), nil} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseAccounts(data)
		if err != nil {
			return
		}
		acc, err := NewAccounts("", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := acc.Apply(doc); err != nil {
			t.Fatalf("parsed document does not apply: %v", err)
		}
		for _, a := range *acc.table.Load() {
			if !usernameRE.MatchString(a.name) || a.hash.p.MemoryKiB > maxMemoryKiB || a.hash.p.Time > maxTime {
				t.Fatalf("accepted %+v", a)
			}
		}
	})
}

package gatewayauth

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse: any input either parses into a roster that validates and renders, or fails
// with ErrRoster; never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"gateways":[{"id":"riga-1","city":"riga","nkey":"UBNRQAU7HKJBEBSKIZSZ34H55XNUOWN4HTPZUVJCE3A5WQEN5PXUXN7K"}]}`))
	f.Add([]byte(`{"gateways":[],"services":[{"name":"ops","nkey":"UD3YV2XRIEDCQMIRWY4TNEZ26DE43J6IA52AVQIXMWDRNI6IL7N6K6DD"}]}`))
	f.Add([]byte(`{"gateways":[{"id":"*","city":">","nkey":"SU"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ro, err := Parse(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrRoster) {
				t.Fatalf("error without ErrRoster: %v", err)
			}
			return
		}
		if err := ro.Validate(); err != nil {
			t.Fatalf("parsed roster does not validate: %v", err)
		}
		var buf bytes.Buffer
		if err := WriteServerConfig(&buf, ro, 0); err != nil {
			t.Fatalf("render: %v", err)
		}
		for _, g := range ro.Gateways {
			if p := GrantsFor(g, 0).Permissions(); p.Publish == nil || len(p.Publish.Allow) == 0 {
				t.Fatalf("gateway %q without publish grants", g.ID)
			}
		}
	})
}

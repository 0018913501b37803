package adminapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite openapi.json from the running API")

// TestOpenAPIDocumentCommitted fails when the committed openapi.json differs from what the API
// serves at /admin/v1/openapi.json. Regenerate with
// go test ./cloud/internal/adminapi -run OpenAPI -update
func TestOpenAPIDocumentCommitted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/admin/v1/openapi.json", "", nil)
	if r.status != 200 {
		t.Fatalf("openapi.json: %d", r.status)
	}
	var doc map[string]any
	r.json(t, &doc)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("openapi version %q", v)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, r.body, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	if *update {
		if err := os.WriteFile("openapi.json", pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	committed, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatalf("%v (run: go test ./cloud/internal/adminapi -run OpenAPI -update)", err)
	}
	if !bytes.Equal(committed, pretty.Bytes()) {
		t.Fatal("openapi.json is stale: run go test ./cloud/internal/adminapi -run OpenAPI -update and commit it")
	}
}

// TestOpenAPIDocumentIsPrecise: every operation documents its access, 401/403 when guarded and
// problem responses only; every schema property has a type and a description.
func TestOpenAPIDocumentIsPrecise(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var doc struct {
		Paths      map[string]map[string]map[string]any
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any
			}
		}
	}
	e.do("GET", "/admin/v1/openapi.json", "", nil).json(t, &doc)
	for path, item := range doc.Paths {
		for method, op := range item {
			access, _ := op["x-fleetedge-permission"].(string)
			if access == "" {
				t.Errorf("%s %s: no x-fleetedge-permission", method, path)
			}
			resp, _ := op["responses"].(map[string]any)
			if _, ok := resp["default"]; ok {
				t.Errorf("%s %s: undocumented default error response", method, path)
			}
			for _, st := range []string{"401", "403"} {
				_, has := resp[st]
				want := access != "public" && (st == "401" || access != "authenticated")
				if access == "public" && st == "401" {
					continue // login answers invalid_credentials
				}
				if has != want {
					t.Errorf("%s %s (%s): response %s documented = %v", method, path, access, st, has)
				}
			}
			for st, v := range resp {
				if st[0] == '4' || st[0] == '5' {
					content, _ := v.(map[string]any)["content"].(map[string]any)
					if _, ok := content["application/problem+json"]; !ok || len(content) != 1 {
						t.Errorf("%s %s: %s not documented as problem+json: %v", method, path, st, content)
					}
				}
			}
		}
	}
	var names []string
	for name := range doc.Components.Schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "ErrorModel" { // huma's own, not referenced by any operation
			continue
		}
		for prop, s := range doc.Components.Schemas[name].Properties {
			_, typed := s["type"]
			_, ref := s["$ref"]
			if d, _ := s["description"].(string); d == "" {
				t.Errorf("schema %s: property %s has no description", name, prop)
			}
			if ts, ok := s["type"].([]any); ok {
				t.Errorf("schema %s: property %s is nullable (%v): dashboards would have to check null", name, prop, ts)
			}
			if !typed && !ref && prop != "value" { // ErrorDetail.value: the offending input, any JSON
				t.Errorf("schema %s: property %s has no type", name, prop)
			}
		}
	}
}

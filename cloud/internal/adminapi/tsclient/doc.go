// Package tsclient holds the test that proves the admin OpenAPI document is precise enough for
// the dashboards generated from it: openapi-typescript (npm) turns the document into TypeScript
// types and tsc --noEmit --strict type-checks small dashboard modules (ts/) that call the API
// through openapi-fetch. A wrong field type in a module — or a schema that stops saying what a
// field is — fails the test; ts/mistake.ts must fail to type-check, so the check cannot pass
// vacuously.
//
// Documents checked: the committed cloud/internal/adminapi/openapi.json (ts/account.ts always;
// ts/dashboard.ts — live map, rides, analytics — once the document holds those paths), and a
// document built by the test with the analytics, admin list and export operations registered
// (ts/areas.ts). node, npm and the packages pinned in package.json come from setup.sh; the test
// skips only when node or npm are missing and FLEETEDGE_REQUIRE_NODE is unset.
package tsclient

// Package deploycheck owns no runtime code: its tests keep the production configurations in
// deploy/ consistent with the code they configure — the NATS cluster config parses with
// nats-server's own parser and grants gateways exactly what the embedded server grants them,
// the generated users fragment matches the example roster, the ClickHouse cluster DDL has the
// chstore migrations' columns and keys, every metric an alert uses is exported by some
// package, and the cloud configs of the Kubernetes manifests load and validate.
//
// Regenerate deploy/nats/auth.conf from deploy/nats/roster.example.json with
//
//	go test ./cloud/internal/deploycheck -run TestNATSAuthConf -update
package deploycheck

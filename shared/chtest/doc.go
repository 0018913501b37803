// Package chtest gives each test its own, freshly created ClickHouse database on the local
// development server that deploy/local/clickhouse.sh runs.
//
// It owns three things: making sure that server is running (it calls the script's `start`,
// which installs ClickHouse when missing and reuses a running server), creating a uniquely
// named database per test, and dropping that database in t.Cleanup. When the server cannot
// be started the test fails with the script's output — it never skips silently.
//
// The server's address and ports come from the script (`env`), so FLEETEDGE_CH_TCP_PORT and
// friends set for `go test` reach it unchanged. Databases are named chtest_<test>_<random>.
package chtest

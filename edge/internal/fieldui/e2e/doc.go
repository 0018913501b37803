// Package e2e holds the field UI's browser test: e2e_test.go builds and
// starts a real gateway process, connects simulated scooters, and runs
// fieldui.e2e.mjs (playwright-core driving Debian's headless chromium).
// setup.sh installs chromium and playwright-core when missing.
package e2e

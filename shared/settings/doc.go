// Package settings owns the machinery behind a binary's one typed configuration: a table of
// settings, each reachable from a flag and an environment variable, loaded with the precedence
// defaults < JSON file < environment < flags, and rendered for --help and as a Markdown table.
//
// Each binary keeps its own Config type, defaults, list of settings and validation; this
// package is generic over the config type and knows nothing of any binary. Invariants: unknown
// keys in the JSON file are errors (a typo must not silently leave a default in place); an
// empty environment variable counts as unset; every error Load returns wraps the table's Err.
// A Table holds no state between calls, so one binary's table can be loaded concurrently.
package settings

#!/bin/sh
# Installs what the admin API's TypeScript client test needs, only when missing: openapi-typescript
# (generates the client types from openapi.json), openapi-fetch (the typed fetch client the
# dashboard module uses) and typescript (tsc), pinned in package.json / package-lock.json, from
# npm. Idempotent; run by `make deps` / `make test` before `go test`.
set -eu
cd "$(dirname "$0")"
if [ ! -f node_modules/openapi-typescript/package.json ] || [ ! -f node_modules/typescript/package.json ] \
	|| [ ! -f node_modules/openapi-fetch/package.json ]; then
	echo "tsclient setup: npm ci (openapi-typescript, openapi-fetch, typescript)"
	npm ci --no-audit --no-fund --silent
fi
echo "tsclient setup: openapi-typescript $(node -p "require('openapi-typescript/package.json').version"), typescript $(node -p "require('typescript/package.json').version"), openapi-fetch $(node -p "require('openapi-fetch/package.json').version")"

#!/bin/sh
# Installs what the field UI's browser test needs, only when missing:
# Debian's chromium (~170 s, +1.2 GB) and playwright-core from npm (no
# browser download: never `playwright install`). Idempotent; run by
# `make deps` / `make test` before `go test`.
set -eu
cd "$(dirname "$0")"
if [ ! -x /usr/bin/chromium ]; then
	echo "e2e setup: installing chromium (apt)"
	SUDO=""
	if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
	$SUDO apt-get -o DPkg::Lock::Timeout=120 update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=120 install -y -q chromium
fi
if [ ! -f node_modules/playwright-core/package.json ]; then
	echo "e2e setup: npm install (playwright-core)"
	npm install --no-audit --no-fund --silent
fi
echo "e2e setup: chromium $(/usr/bin/chromium --version 2>/dev/null || echo '?'), playwright-core $(node -p "require('playwright-core/package.json').version")"

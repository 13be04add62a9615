#!/usr/bin/env bash
# Installs schemathesis (PyPI), the schema fuzzer of `npm run test:fuzz`, into build/fuzz/venv (git-ignored).
# Idempotent (a second run checks the version and does nothing), quiet, never prompts. Needs python3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build/fuzz"
VERSION="4.32.5"

log() { printf 'setup-fuzz: %s\n' "$*"; }
mkdir -p "$BUILD"
LOG="$BUILD/setup.log"
: >"$LOG"
if "$BUILD/venv/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then exit 0; fi
command -v python3 >/dev/null || { log "python3 not found on PATH"; exit 1; }
log "installing schemathesis $VERSION into build/fuzz/venv"
if ! { python3 -m venv "$BUILD/venv" && "$BUILD/venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"; } >>"$LOG" 2>&1; then
  log "failed"; cat "$LOG" >&2; exit 1
fi
"$BUILD/venv/bin/schemathesis" --version

#!/usr/bin/env bash
# Installs what the polyglot tests (test/polyglot) and the shop example need to generate clients from
# openapi.json in other languages, into build/polyglot/ (git-ignored):
#   - openapi-python-client (PyPI) in a virtualenv, with the generated client's runtime deps;
#   - oapi-codegen (Go module proxy) as a binary;
#   - the Go modules of examples/shop/worker-go.
# Idempotent (a second run checks versions and does nothing), quiet, never prompts. Needs python3 and
# go on PATH; as root on Debian it installs python3-venv if venv is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build/polyglot"
PY_GENERATOR="openapi-python-client==0.29.1"
PY_RUNTIME=("httpx>=0.28,<0.29" "attrs>=22.2" "python-dateutil>=2.8")
GO_GENERATOR="github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
GO_GENERATOR_VERSION="v2.8.2"

log() { printf 'setup-polyglot: %s\n' "$*"; }
mkdir -p "$BUILD/bin"
LOG="$BUILD/setup.log"
: >"$LOG"
# Runs a command with its output in $LOG; shows the log if it fails.
quietly() {
  if ! "$@" >>"$LOG" 2>&1; then
    log "failed: $*"; cat "$LOG" >&2; exit 1
  fi
}

# Go's default install location, in case the shell's PATH lacks it.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then PATH="$PATH:/usr/local/go/bin"; fi
for tool in python3 go; do
  command -v "$tool" >/dev/null || { log "$tool not found on PATH"; exit 1; }
done

# Python: a virtualenv with the generator and what generated clients import.
if ! "$BUILD/venv/bin/python" -c 'import dateutil, httpx, attrs' 2>/dev/null ||
   ! "$BUILD/venv/bin/openapi-python-client" --version 2>/dev/null | grep -q "${PY_GENERATOR#*==}"; then
  if ! python3 -m venv "$BUILD/venv" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      log "installing python3-venv"
      quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
      quietly python3 -m venv "$BUILD/venv"
    else
      log "python3 -m venv failed (install python3-venv)"; exit 1
    fi
  fi
  log "installing $PY_GENERATOR"
  quietly env PIP_DISABLE_PIP_VERSION_CHECK=1 "$BUILD/venv/bin/pip" install --quiet --no-input "$PY_GENERATOR" "${PY_RUNTIME[@]}"
fi

# Go: the generator binary, and the modules the example's Go worker builds against.
if ! "$BUILD/bin/oapi-codegen" -version 2>/dev/null | grep -qx "$GO_GENERATOR_VERSION"; then
  log "installing oapi-codegen $GO_GENERATOR_VERSION"
  quietly env GOBIN="$BUILD/bin" GOFLAGS=-mod=mod go install "$GO_GENERATOR@$GO_GENERATOR_VERSION"
fi
(cd "$ROOT/examples/shop/worker-go" && quietly go mod download)

log "ready: $BUILD"

#!/usr/bin/env bash
# Pre-builds the embedded OpenSearch test engine (engine/opensearch) if it is missing or stale:
# Maven package (first run resolves ~75 MB into ~/.m2) plus a JVM class-data-sharing archive.
# Quiet on success; Maven's output is shown on failure. Pass --force to rebuild anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/opensearch.mjs build "$@"

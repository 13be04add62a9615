#!/usr/bin/env bash
# Validates the Kubernetes deployment files without a cluster: `helm lint` and `helm template` on the chart
# (both layouts), then every rendered object and every plain manifest in deploy/kubernetes through
# deploy/validate (strict decoding into the Kubernetes API types, plus a few API-server rules). Helm v4 and
# the validator's Kubernetes modules come from the Go module proxy, once.
set -euo pipefail
cd "$(dirname "$0")/.."
HELM_VERSION=v4.3.2
bin="$(go env GOPATH)/bin"
# (A go-installed helm reports no patch version itself: read the module version from the binary.)
if ! go version -m "$bin/helm" 2>/dev/null | grep -qP "^\tmod\thelm.sh/helm/v4\t$HELM_VERSION\t"; then
  echo "== installing helm $HELM_VERSION (go install)"
  GOFLAGS=-mod=mod go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
fi
helm="$bin/helm"
mkdir -p .tools
(cd deploy/validate && go build -o ../../.tools/k8s-validate .)
validate=.tools/k8s-validate

chart=charts/tasques
"$helm" lint --strict "$chart"
"$helm" lint --strict "$chart" -f "$chart/values-elasticsearch.yaml"

echo "-- chart, sqlite layout"
"$helm" template tasques "$chart" --set 'auth.users[0].name=a' --set 'auth.users[0].password=b' | "$validate" -
echo "-- chart, sqlite layout, default values (no users)"
"$helm" template tasques "$chart" | "$validate" -
echo "-- chart, elasticsearch layout"
"$helm" template tasques "$chart" -f "$chart/values-elasticsearch.yaml" | "$validate" -
echo "-- chart refuses several servers on SQLite"
if out="$("$helm" template tasques "$chart" --set replicaCount=3 2>&1)"; then
  echo "helm template accepted replicaCount=3 with store.kind sqlite" >&2
  exit 1
fi
grep -q 'exactly one server' <<<"$out"
echo "-- plain manifests"
"$validate" deploy/kubernetes/sqlite/*.yaml
"$validate" deploy/kubernetes/elasticsearch/*.yaml
echo "kubernetes: ok"

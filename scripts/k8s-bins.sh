#!/usr/bin/env bash
# Builds the upstream control plane the real-Kubernetes suite runs against (test tooling only; Tessera is
# TypeScript). Everything goes to a cache folder outside the repository, keyed by the pinned versions, and a
# complete cache is reused as it is. Prints the folder of binaries on its last line.
#
#   scripts/k8s-bins.sh            build or reuse; exit 1 naming the step that failed
#   scripts/k8s-bins.sh --check    print the folder if the cache is complete, else exit 3 (builds nothing)
#   TESSERA_K8S_CACHE=dir          cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/tessera/k8s)
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.7.0}
HELM_VERSION=${HELM_VERSION:-3.22.0}
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd helm)

cache_root=${TESSERA_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/k8s}
out="$cache_root/k8s-v$K8S_VERSION-etcd-v$ETCD_VERSION-helm-v$HELM_VERSION"
bin="$out/bin"

complete() {
  for b in "${BINARIES[@]}"; do [ -x "$bin/$b" ] || return 1; done
}

step() { echo "k8s-bins: $*" >&2; }
fail() { echo "k8s-bins: FAILED at step '$1' (see the output above)" >&2; exit 1; }

if complete; then
  [ "${1:-}" = --check ] || step "reusing $bin"
  echo "$bin"
  exit 0
fi
[ "${1:-}" = --check ] && exit 3

command -v go >/dev/null 2>&1 || { echo "k8s-bins: Go is not installed; install Go >= 1.26 to build the control plane" >&2; exit 1; }

mkdir -p "$bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS="${GOFLAGS:-} -mod=mod"
export CGO_ENABLED=0
start=$(date +%s)

# k8s.io/kubernetes cannot be built by `go install` (its go.mod replaces its staging modules with local paths):
# a throwaway module requires it and pins every staging module to the matching v0 release, as out-of-tree
# scheduler plugins do.
step "kubernetes v$K8S_VERSION: resolving modules"
mkdir -p "$work/k8s"
(
  cd "$work/k8s"
  go mod init tessera.local/k8s-bins >/dev/null 2>&1
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')
  [ -f "$gomod" ] || exit 1
  {
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo "replace ("
    sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/k8s\.io/[a-z0-9-]*$#\t\1 => \1 v0.'"${K8S_VERSION#1.}"'#p' "$gomod"
    echo ")"
  } >>go.mod
  cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy -e >/dev/null
) || fail "kubernetes modules"

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_VERSION#1.}"
ldflags="${ldflags%.*}"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  step "building $cmd ($(($(date +%s) - start)) s so far)"
  (cd "$work/k8s" && go build -trimpath -ldflags "$ldflags" -o "$bin/$cmd" "k8s.io/kubernetes/cmd/$cmd") || fail "build $cmd"
done

# etcd's root module replaces its own submodules too; its server module's etcdmain is the same entry point.
step "building etcd v$ETCD_VERSION ($(($(date +%s) - start)) s so far)"
mkdir -p "$work/etcd"
(
  cd "$work/etcd"
  go mod init tessera.local/etcd-bin >/dev/null 2>&1
  cat >main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null
  go mod tidy >/dev/null
  go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .
) || fail "build etcd"

step "building helm v$HELM_VERSION ($(($(date +%s) - start)) s so far)"
(GOBIN="$bin" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION") || fail "build helm"

complete || fail "check binaries"
step "built in $(($(date +%s) - start)) s into $bin"
echo "$bin"

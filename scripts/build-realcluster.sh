#!/usr/bin/env bash
# Builds the real Kubernetes components of the test suite's cluster (issue 16) from the
# Go modules pinned in test/realcluster/go.mod/go.sum: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy.
# The binaries are cached outside the git tree, keyed on go.mod + go.sum, so a second
# run reuses them: prints the directory holding them.
set -euo pipefail
script=$(readlink -f "$0")
cd "$(dirname "$0")/../test/realcluster"

if ! command -v go >/dev/null; then
  echo "build-realcluster: Go (>= 1.26) is needed to build the Kubernetes components" >&2
  exit 1
fi

K8S_VERSION=v1.36.3
key=$(cat go.mod go.sum | sha256sum | cut -c1-16)
cache="${ANCHORLB_CACHE:-/var/cache/anchorlb}/realcluster/$key"
bin="$cache/bin"
tools=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

built() {
  local t
  for t in "${tools[@]}"; do [[ -x "$bin/$t" ]] || return 1; done
}
if built; then echo "$bin"; exit 0; fi

mkdir -p "$cache"
# --background (make test): start the build detached at the lowest priority and return, so a
# fresh machine builds while the quick suites run (they leave the cores idle much of the time);
# the real-cluster tests call this script again later and wait on the lock below.
if [[ ${1:-} == --background ]]; then
  nohup setsid nice -n 19 bash "$script" </dev/null >/dev/null 2>&1 &
  echo "build-realcluster: building the Kubernetes components in the background (log $cache/build.log)" >&2
  exit 0
fi
# One build at a time: a second caller waits for the first and then finds the binaries.
exec 9>"$cache/build.lock"
flock 9
if built; then echo "$bin"; exit 0; fi
tmp=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "build-realcluster: building Kubernetes $K8S_VERSION and etcd from Go modules into $bin (first time: long; log $cache/build.log)" >&2
start=$(date +%s)
v=k8s.io/component-base/version
cv=k8s.io/client-go/pkg/version
ldflags="-s -w"
for p in $v $cv; do
  ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=36 -X $p.gitTreeState=clean"
done
# nice: the machines that run this are shared (REALCLUSTER_BUILD_JOBS=1 for fewer parallel compiles).
if ! nice -n 10 go build -mod=readonly -p "${REALCLUSTER_BUILD_JOBS:-2}" -trimpath -ldflags "$ldflags" -o "$tmp/" \
    go.etcd.io/etcd/server/v3 \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy >"$cache/build.log" 2>&1; then
  echo "build-realcluster: go build failed, see $cache/build.log:" >&2
  tail -20 "$cache/build.log" >&2
  exit 1
fi
mv "$tmp/server" "$tmp/etcd"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
echo "build-realcluster: built in $(( $(date +%s) - start )) s" | tee -a "$cache/build.log" >&2
echo "$bin"

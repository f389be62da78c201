#!/usr/bin/env bash
# Builds the N-API addon in src/native (raw Ethernet frames, TCP-MD5, TTL options)
# with the node-gyp that ships with npm, against this machine's Node headers.
# Idempotent: does nothing when the built addon is newer than its sources.
# Output: src/native/build/Release/anchorlb_native.node (git-ignored).
set -euo pipefail

cd "$(dirname "$0")/../src/native"
ADDON=build/Release/anchorlb_native.node
SOURCES=(anchorlb_native.c binding.gyp)

up_to_date() {
  [[ -f $ADDON ]] || return 1
  local source
  for source in "${SOURCES[@]}"; do [[ $source -nt $ADDON ]] && return 1; done
  return 0
}
if up_to_date; then
  echo "build-native: $ADDON is up to date"
  exit 0
fi

die() { echo "build-native: error: $*" >&2; exit 1; }
command -v node >/dev/null || die "node is not installed"
command -v cc >/dev/null || die "no C compiler (Debian: apt-get install g++ make)"
command -v make >/dev/null || die "make is not installed (Debian: apt-get install make)"

# npm 11 bundles node-gyp; a project-local one (node_modules/.bin) is used if npm's is absent.
NPM_CLI=$(readlink -f "$(command -v npm)")
NODE_GYP="$(dirname "$NPM_CLI")/../node_modules/node-gyp/bin/node-gyp.js"
if [[ ! -f $NODE_GYP ]]; then
  NODE_GYP=$(readlink -f ../../node_modules/.bin/node-gyp 2>/dev/null || true)
  [[ -f $NODE_GYP ]] || die "node-gyp not found (neither bundled with npm nor in node_modules)"
fi

# Use the headers installed next to the running node (Debian/NodeSource put them in
# PREFIX/include/node) so nothing is downloaded.
NODE_PREFIX=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
GYP_ARGS=()
if [[ -f $NODE_PREFIX/include/node/node_api.h ]]; then
  GYP_ARGS+=("--nodedir=$NODE_PREFIX")
fi

mkdir -p build
echo "build-native: building $ADDON"
node "$NODE_GYP" configure build --loglevel=warn "${GYP_ARGS[@]}" >build/build-native.log 2>&1 || {
  cat build/build-native.log >&2
  die "node-gyp failed (log above)"
}
rm -f build/build-native.log
[[ -f $ADDON ]] || die "node-gyp finished but $ADDON is missing"
echo "build-native: built $ADDON"

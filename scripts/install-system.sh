#!/usr/bin/env bash
# Installs the Debian packages and the pgvector extension that Tenantry needs.
# Every step skips itself when already done, so running it again is cheap.
set -euo pipefail

need_pkgs=()
for p in postgresql-15 postgresql-server-dev-15 build-essential pkg-config libssl-dev chromium curl ca-certificates haproxy redis-server; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
command -v node >/dev/null || need_pkgs+=(nodejs npm)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}"
fi

PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
if [ ! -f /usr/share/postgresql/15/extension/vector.control ]; then
  echo "==> building pgvector from Debian's source package"
  work=$(mktemp -d)
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=http://deb.debian.org/debian
  echo "deb-src $uri trixie main" > "$work/trixie-src.list"
  $SUDO apt-get update -qq -o Dir::Etc::sourcelist="$work/trixie-src.list" \
      -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0
  (cd "$work" && apt-get source --download-only -o Dir::Etc::sourcelist="$work/trixie-src.list" \
      -o Dir::Etc::sourceparts=- pgvector)
  tarball=$(ls "$work"/pgvector_*.orig.tar.gz | head -n1)
  tar xzf "$tarball" -C "$work"
  src=$(find "$work" -maxdepth 1 -type d -name 'pgvector-*' | head -n1)
  make -C "$src" PG_CONFIG=$PG_CONFIG OPTFLAGS="" >/dev/null
  $SUDO make -C "$src" install PG_CONFIG=$PG_CONFIG >/dev/null
  rm -rf "$work"
fi
echo "==> system packages ready"

#!/usr/bin/env bash
# Runs `cargo sqlx prepare` for the service crate (the only crate with checked queries)
# against a throwaway PostgreSQL with every migration applied. Extra arguments (such as
# --check) go to `cargo sqlx prepare`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
work=$(mktemp -d /tmp/tenantry-sqlx-XXXXXX)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { as_pg "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
as_pg "$bin/initdb" -D "$work/data" -U tenantry --auth=trust --no-sync >/dev/null
as_pg "$bin/pg_ctl" -D "$work/data" -l "$work/log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off" start >/dev/null
url="postgres://tenantry@127.0.0.1:$port/tenantry"
psql -q "postgres://tenantry@127.0.0.1:$port/postgres" -c "create database tenantry"
for f in migrations/*.sql; do psql -q -v ON_ERROR_STOP=1 "$url" -f "$f"; done
cd "$root/server/service"
DATABASE_URL="$url" SQLX_OFFLINE=false cargo sqlx prepare "$@"

#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the alert store's tests.
#
#   eval "$(scripts/test-postgres.sh start)"   # start (or reuse) it; prints the export line
#   cargo test -p trailhound-store             # the PostgreSQL store tests now run for real
#   scripts/test-postgres.sh stop              # stop it and delete its files
#
# `start` prints only `export TRAILHOUND_TEST_POSTGRES=postgres://trailhound@127.0.0.1:PORT/trailhound`
# on stdout (progress goes to stderr). It is idempotent: a server already running from the same
# folder is reused. The cluster lives in $TRAILHOUND_PG_DIR (default /tmp/trailhound-pg-UID):
# initdb with trust authentication, listening on 127.0.0.1 only (first free port from
# $TRAILHOUND_PG_PORT, default 54329), its Unix socket in that folder, fsync off (nothing in it is
# worth keeping). A role and a database, both named trailhound, are created; the tests make and
# drop their own schemas in it.
#
# Needs PostgreSQL's server programs (Debian: `apt-get install postgresql`; when run as root
# without them, this script installs that package). initdb refuses to run as root, so as root the
# server runs as the `postgres` user (or a `trailhound-pg` system user made for it).
set -euo pipefail

DIR="${TRAILHOUND_PG_DIR:-${TMPDIR:-/tmp}/trailhound-pg-$(id -u)}"
FIRST_PORT="${TRAILHOUND_PG_PORT:-54329}"
ROLE=trailhound
DB=trailhound

say() { printf 'test-postgres: %s\n' "$*" >&2; }

# PG_BIN: the folder of initdb/pg_ctl/psql (on PATH, else Debian's /usr/lib/postgresql/VERSION/bin).
find_bin() {
  PG_BIN=""
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    PG_BIN="$(dirname "$(command -v pg_ctl)")"
  else
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then PG_BIN="$d"; fi
  fi
  [ -n "$PG_BIN" ]
}

ensure_bin() {
  find_bin && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >/dev/null
    find_bin && return 0
  fi
  say "PostgreSQL's server programs (initdb, pg_ctl) are missing: apt-get install postgresql"
  exit 1
}

# RUN: the command prefix that runs the server's programs as a non-root user.
set_user() {
  RUN=()
  PG_USER="$(id -un)"
  if [ "$(id -u)" = 0 ]; then
    PG_USER=postgres
    if ! id -u "$PG_USER" >/dev/null 2>&1; then
      PG_USER=trailhound-pg
      id -u "$PG_USER" >/dev/null 2>&1 ||
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    fi
    RUN=(runuser -u "$PG_USER" --)
  fi
}

running() {
  [ -f "$DIR/data/PG_VERSION" ] && [ -f "$DIR/port" ] &&
    "${RUN[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

export_line() {
  echo "export TRAILHOUND_TEST_POSTGRES=postgres://$ROLE@127.0.0.1:$(cat "$DIR/port")/$DB"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  ensure_bin
  set_user
  if running; then
    say "reusing the server in $DIR"
    export_line
    return
  fi
  # Not running: whatever is left in the folder is stale.
  rm -rf "$DIR/data" "$DIR/sock" "$DIR/port" "$DIR/log"
  mkdir -p "$DIR/sock"
  if [ "$(id -u)" = 0 ]; then chown -R "$PG_USER" "$DIR"; fi
  chmod 700 "$DIR"
  local port="$FIRST_PORT"
  while ! port_free "$port"; do
    port=$((port + 1))
    if [ "$port" -ge $((FIRST_PORT + 200)) ]; then
      say "no free port in $FIRST_PORT..$port"
      exit 1
    fi
  done
  say "initdb in $DIR/data ($("$PG_BIN/postgres" --version))"
  "${RUN[@]}" "$PG_BIN/initdb" -D "$DIR/data" -U postgres --auth-local=trust --auth-host=trust \
    -E UTF8 --no-locale --no-sync >"$DIR/initdb.log" 2>&1 || {
    cat "$DIR/initdb.log" >&2
    exit 1
  }
  say "starting on 127.0.0.1:$port"
  "${RUN[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $DIR/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || {
    cat "$DIR/log" >&2
    exit 1
  }
  local psql="$PG_BIN/psql"
  [ -x "$psql" ] || psql=psql
  "$psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE $ROLE LOGIN" -c "CREATE DATABASE $DB OWNER $ROLE" >&2
  echo "$port" >"$DIR/port"
  export_line
}

stop() {
  if [ ! -d "$DIR" ]; then return; fi
  if find_bin; then
    set_user
    if [ -f "$DIR/data/PG_VERSION" ]; then
      "${RUN[@]}" "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
  fi
  rm -rf "$DIR"
  say "stopped; removed $DIR"
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
env)
  find_bin || exit 1
  set_user
  if running; then export_line; else
    say "not running (start it with: eval \"\$(scripts/test-postgres.sh start)\")"
    exit 1
  fi
  ;;
*)
  echo "usage: scripts/test-postgres.sh [start|stop|env]" >&2
  exit 2
  ;;
esac

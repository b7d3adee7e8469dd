#!/usr/bin/env bash
# Two instances, one Redis: the shared-session story told with curl.
#
#   scripts/shared-store-walkthrough.sh
#   scripts/shared-store-walkthrough.sh --help
#
# Starts a private redis-server (no persistence, a free port) and two
# instances of the app on it, A and B, then with curl and one cookie jar:
# creates a session on A, reads and updates it on B, restarts A and reads it
# again, regenerates on B and shows that the old id finds nothing on A. Each
# step prints a numbered explanation, the commands as they run (each curl
# request with -sS -o .body -D .headers -w '%{http_code}' added, said once at
# the start), the X-Served-By header and the reply; the script exits non-zero at the first
# step that does not behave as described, and stops every process it
# started, by PID, on the way out.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/shared-store-walkthrough.sh

Needs redis-server and curl. Starts its own redis-server and two instances
of ajax-sessions (A and B) on free ports of 127.0.0.1, walks one session
across them with one cookie jar, and stops them all at the end.

The app binary is $AJAX_SESSIONS_BIN if set, otherwise the one `cargo build`
makes (built first).
EOF
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=scripts/lib/story.sh
. "$ROOT/scripts/lib/story.sh"

command -v redis-server >/dev/null || fail "redis-server not found (apt-get install redis-server)"
command -v curl >/dev/null || fail "curl not found (apt-get install curl)"
if [ -n "${AJAX_SESSIONS_BIN:-}" ]; then
  BIN="$(readlink -f "$AJAX_SESSIONS_BIN")"
else
  (cd "$ROOT" && cargo build --quiet) || fail "cargo build failed"
  BIN="$ROOT/target/debug/ajax-sessions"
fi

# A port nothing listens on now.
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# wait_for_port PORT: until something accepts connections there (5 s).
wait_for_port() {
  local tries=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 250 ] || return 1
    sleep 0.02
  done
}

# start_instance NAME PORT: starts the app on Redis (PORT 0: any free
# port) and waits for its `listening on` line; sets LAST_PID and LAST_PORT.
start_instance() {
  # Emptied here, before the start: the child's own `>` truncates the file
  # only once it runs, and a restart's grep could read the `listening on`
  # line the instance's previous run left there.
  : >"$WORK/$1.out"
  "$BIN" --port "$2" --lab-port off --instance "$1" --store "$REDIS_URL" >"$WORK/$1.out" 2>"$WORK/$1.err" &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  local tries=0
  until grep -q '^listening on' "$WORK/$1.out"; do
    tries=$((tries + 1))
    kill -0 "$LAST_PID" 2>/dev/null && [ "$tries" -lt 250 ] \
      || fail "instance $1 did not start: $(cat "$WORK/$1.err")"
    sleep 0.02
  done
  LAST_PORT=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/$1.out")
}

# stop_pid PID: SIGTERM, and wait for the exit.
stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# call CURL-COMMAND: prints the command and runs that text with curl told
# to keep status, headers and body aside (the options the start names); then prints
# X-Served-By, any Set-Cookie (id shortened), the status and the reply.
call() {
  printf '%s$ %s%s\n' "$DIM" "$1" "$RESET"
  STATUS=$(eval "$1 -sS -o .body -D .headers -w '%{http_code}'") || fail "curl failed"
  BODY=$(cat .body)
  grep -iE '^(x-served-by|set-cookie):' .headers | tr -d '\r' | sed 's/^/   < /' | shorten_ids || true
  printf '   < HTTP %s\n   %s\n' "$STATUS" "$BODY"
}

expect_served_by() {
  grep -qi "^x-served-by: $1" .headers || fail "expected X-Served-By: $1"
}

cd "$WORK"
# A free port can be taken by someone else before redis-server binds it:
# try a few.
for attempt in 1 2 3 4 5; do
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >redis.log 2>&1 &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  wait_for_port "$REDIS_PORT" && kill -0 "$REDIS_PID" 2>/dev/null && break
  [ "$attempt" -lt 5 ] || fail "redis-server did not start: $(cat redis.log)"
done
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
start_instance A 0
A_PID=$LAST_PID
A_PORT=$LAST_PORT
start_instance B 0
B_PORT=$LAST_PORT
A="http://127.0.0.1:$A_PORT"
B="http://127.0.0.1:$B_PORT"

echo "${BOLD}ajax-sessions: one session, two instances, one Redis ($REDIS_URL)${RESET}"
echo "Each curl request below runs with -sS -o .body -D .headers -w '%{http_code}' added, so that"
echo "this script can show its headers and check its status."
echo "Instance A: $A    Instance B: $B    (both: --store $REDIS_URL)"

step "A POST to instance A creates the session; A stores it in Redis and sets the cookie. curl keeps it in one jar for both instances, as a browser would: cookies belong to a host, not a port."
call "curl -c cookies.txt -H 'Content-Type: application/json' -d '{\"color\":\"blue\"}' $A/update-session-data"
expect_status 200
expect_served_by A
expect_body '"store":"redis"'
shown "ID=\$(awk -F '\\t' '\$6 == \"session_id\" { print \$7 }' cookies.txt)"
[ -n "$ID" ] || fail "the jar holds no session_id"

step "Instance B reads the same session: the cookie names it, and B finds it in the shared Redis."
call "curl -b cookies.txt $B/get-session-data"
expect_status 200
expect_served_by B
expect_body '"active":true'
expect_body '"color":"blue"'
shown "TOKEN=\$(curl -s -b cookies.txt $B/get-session-data | sed -n 's/.*\"csrf_token\":\"\\([^\"]*\\)\".*/\\1/p')"
[ -n "$TOKEN" ] || fail "no csrf_token in the reply"

step "Instance B updates it, with the session's token."
call "curl -b cookies.txt -H \"X-CSRF-Token: \$TOKEN\" -H 'Content-Type: application/json' -d '{\"size\":\"large\"}' $B/update-session-data"
expect_status 200
expect_served_by B
expect_body '"size":"large"'

step "Instance A is stopped and started again: a memory store would have forgotten the session, Redis kept it."
shown "kill $A_PID"
stop_pid "$A_PID"
start_instance A "$A_PORT"
A_PID=$LAST_PID
echo "   (instance A started again on $A, PID $A_PID)"
call "curl -b cookies.txt $A/get-session-data"
expect_status 200
expect_served_by A
expect_body '"color":"blue"'
expect_body '"size":"large"'

step "Instance B regenerates the id (new Set-Cookie, same data); the old id then finds nothing, on A as anywhere."
shown "OLD_ID=\$ID"
call "curl -b cookies.txt -c cookies.txt -H \"X-CSRF-Token: \$TOKEN\" -X POST $B/regenerate-session"
expect_status 200
expect_served_by B
shown "ID=\$(awk -F '\\t' '\$6 == \"session_id\" { print \$7 }' cookies.txt)"
[ -n "$ID" ] && [ "$ID" != "$OLD_ID" ] || fail "expected a new id in the jar"
call "curl -H \"Cookie: session_id=\$OLD_ID\" $A/get-session-data"
expect_served_by A
expect_body '"reason":"unknown_or_expired"'
call "curl -b cookies.txt $A/get-session-data"
expect_body '"color":"blue"'

printf '\n%sAll %d steps behaved as described.%s Stopping redis-server and both instances.\n' "$BOLD" "$STEP" "$RESET"

#!/usr/bin/env bash
# Idle expiry, told with curl: a session that sees no request for longer than
# the server's idle timeout is gone, and the server says why.
#
#   scripts/curl-expiry.sh [BASE_URL]     (default http://127.0.0.1:3000)
#   scripts/curl-expiry.sh --help
#
# Needs a server with a short idle timeout (at most 30 s), for example
#   cargo run -- --idle-timeout 5
# Every command is printed exactly as it runs; the script exits non-zero at
# the first step whose result is not what it says.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

usage() {
  cat <<'EOF_USAGE'
Usage: scripts/curl-expiry.sh [BASE_URL]

Shows idle expiry with curl against a running ajax-sessions server with a
short idle timeout (default URL http://127.0.0.1:3000; start the server
with `cargo run -- --idle-timeout 5`): a session is created, read while it
is alive, then left idle past the timeout, after which its id finds nothing
and the reply says "reason": "unknown_or_expired".
EOF_USAGE
}

# shellcheck source=scripts/lib/story.sh
. "$HERE/lib/story.sh"
story_begin "$@"
MAX_WAIT=30

# shown_output COMMAND: prints a shell command, runs exactly that text, and
# keeps its output in OUT (printed, indented).
shown_output() {
  printf '%s$ %s%s\n' "$DIM" "$1" "$RESET"
  OUT=$(eval "$1") || fail "the command failed (is the server running at $BASE?)"
  [ -z "$OUT" ] || printf '%s\n' "$OUT" | sed 's/^/   /'
}

expect_out() {
  grep -q -- "$1" <<<"$OUT" || fail "expected the reply to contain $1"
}

echo "${BOLD}ajax-sessions: idle expiry, told with curl against $BASE${RESET}"
curl -sSf -o /dev/null "$BASE/healthz" || fail "no server at $BASE: start it with cargo run -- --idle-timeout 5"

step "A POST creates a session; its reply gives the server's idle timeout."
shown_output "curl -s -c cookies.txt -H 'Content-Type: application/json' -d '{\"note\":\"soon gone\"}' $BASE/update-session-data"
expect_out '"active":true'
IDLE=$(sed -n 's/.*"idle_timeout_seconds":\([0-9]*\).*/\1/p' <<<"$OUT")
[ -n "$IDLE" ] || fail "the reply gives no idle_timeout_seconds"
if [ "$IDLE" -gt "$MAX_WAIT" ]; then
  fail "this server's idle timeout is $IDLE s; start one with a short timeout (cargo run -- --idle-timeout 5) and run this script against it"
fi
shown "ID=\$(awk -F '\\t' '\$6 == \"session_id\" { print \$7 }' cookies.txt)"
[ -n "$ID" ] || fail "the jar holds no session_id"

step "While requests keep coming, the session lives: the cookie finds it."
shown_output "curl -s -b cookies.txt $BASE/get-session-data"
expect_out '"active":true'
expect_out '"note":"soon gone"'

step "No request for longer than the idle timeout ($IDLE s): the server drops the session. (The cookie's Max-Age runs out too, so a browser or curl's jar would stop sending it.)"
shown_output "sleep $((IDLE + 2))"

step "Sent by hand, the old id finds nothing, and the reply says why: unknown_or_expired. A read creates no new session."
shown_output "curl -s -i -H \"Cookie: session_id=\$ID\" $BASE/get-session-data"
expect_out '"active":false'
expect_out '"reason":"unknown_or_expired"'
grep -qi '^set-cookie:' <<<"$OUT" && fail "a read must not set a cookie"

printf '\n%sAll %d steps behaved as described.%s\n' "$BOLD" "$STEP" "$RESET"

#!/usr/bin/env bash
# The cookie-and-session story told with curl and a cookie jar.
#
#   scripts/curl-walkthrough.sh [BASE_URL]     (default http://127.0.0.1:3000)
#
# Each step prints what it shows, the command, the Cookie / Set-Cookie
# headers involved and the JSON reply, then checks the result; the script
# stops with a non-zero exit at the first step whose result is not what it
# says. Session ids are shortened in the output (first 6 characters).
set -euo pipefail

BASE="${1:-http://127.0.0.1:3000}"
BASE="${BASE%/}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
JAR="$WORK/cookies.txt"
STEP=0
STATUS=""
BODY=""

if [ -t 1 ]; then BOLD=$'\e[1m'; DIM=$'\e[2m'; RESET=$'\e[0m'; else BOLD=""; DIM=""; RESET=""; fi

fail() {
  echo "FAILED at step $STEP: $*" >&2
  exit 1
}

step() {
  STEP=$((STEP + 1))
  printf '\n%s%d. %s%s\n' "$BOLD" "$STEP" "$1" "$RESET"
}

# Shortens session_id values so the output shows ids change without
# printing whole secrets.
shorten_ids() {
  sed -E 's/(session_id=)([A-Za-z0-9_-]{6})[A-Za-z0-9_-]*/\1\2…/g'
}

# The session id in the jar (curl writes HttpOnly cookies as #HttpOnly_host).
jar_session_id() {
  [ -f "$JAR" ] || return 0
  awk -F '\t' '$6 == "session_id" { print $7 }' "$JAR" | tail -n 1
}

pretty_json() {
  if command -v python3 >/dev/null 2>&1 && python3 -m json.tool <<<"$1" >/dev/null 2>&1; then
    python3 -m json.tool <<<"$1"
  else
    printf '%s\n' "$1"
  fi
}

# Prints arguments as a command a reader can paste: single quotes where needed.
quote_args() {
  local arg out="" escaped="'\\''"
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./:=@-]+$ ]]; then
      out+=" $arg"
    else
      out+=" '${arg//\'/$escaped}'"
    fi
  done
  printf '%s' "${out# }"
}

# call DESCRIPTION-OF-COOKIE-SENT curl-arguments...
# Runs curl, prints the command, the Cookie sent, the Set-Cookie received,
# the status and the JSON; sets STATUS and BODY.
call() {
  local cookie_sent="$1"
  shift
  printf '%s$ curl %s%s\n' "$DIM" "$(quote_args "$@")" "$RESET" | sed "s|$WORK/||g" | shorten_ids
  [ -n "$cookie_sent" ] && printf '   > Cookie: %s\n' "$cookie_sent" | shorten_ids
  STATUS=$(curl -sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$@") \
    || fail "curl could not reach $BASE (is the server running? cargo run)"
  BODY=$(cat "$WORK/body")
  grep -i '^set-cookie:' "$WORK/headers" | tr -d '\r' | sed 's/^/   < /' | shorten_ids || true
  printf '   < HTTP %s\n' "$STATUS"
  pretty_json "$BODY" | sed 's/^/   /'
}

expect_status() {
  [ "$STATUS" = "$1" ] || fail "expected HTTP $1, got $STATUS"
}

expect_body() {
  grep -q -- "$1" <<<"$BODY" || fail "expected the reply to contain $1"
}

json_string() {
  sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$BODY"
}

echo "${BOLD}ajax-sessions: cookies and sessions, told with curl against $BASE${RESET}"
curl -sSf -o /dev/null "$BASE/healthz" || fail "no server at $BASE: start it with cargo run"

step "Without a cookie the server knows no session: it answers with an empty state and sets no cookie."
call "" "$BASE/get-session-data"
expect_status 200
expect_body '"active":false'
grep -qi '^set-cookie:' "$WORK/headers" && fail "a GET without a session must not set a cookie"

step "A POST creates the session: the server keeps the data and sends Set-Cookie: session_id=…; HttpOnly. curl's jar (-c) stores it."
call "" -c "$JAR" -H 'Content-Type: application/json' -d '{"color":"blue","size":"large"}' "$BASE/update-session-data"
expect_status 200
expect_body '"color":"blue"'
grep -qi '^set-cookie: session_id=.*HttpOnly' "$WORK/headers" || fail "expected Set-Cookie: session_id=…; HttpOnly"
ID="$(jar_session_id)"
[ -n "$ID" ] || fail "the jar holds no session_id"
TOKEN="$(json_string csrf_token)"
[ -n "$TOKEN" ] || fail "the reply carries no csrf_token"

step "A GET with the jar (-b) sends the cookie back; the server finds the session and its data."
call "session_id=$ID" -b "$JAR" "$BASE/get-session-data"
expect_status 200
expect_body '"active":true'
expect_body '"color":"blue"'

step "The same GET without the jar finds nothing: the cookie is the only link between a client and its session."
call "" "$BASE/get-session-data"
expect_status 200
expect_body '"active":false'

step "A POST that carries the cookie but not the CSRF token is refused with 403: this is what a forged cross-site request looks like."
call "session_id=$ID" -b "$JAR" -H 'Content-Type: application/json' -d '{"color":"red"}' "$BASE/update-session-data"
expect_status 403
expect_body '"code":"csrf_token_missing"'

step "With the token in X-CSRF-Token the same POST is accepted."
call "session_id=$ID" -b "$JAR" -H 'Content-Type: application/json' -H "X-CSRF-Token: $TOKEN" -d '{"color":"red"}' "$BASE/update-session-data"
expect_status 200
expect_body '"color":"red"'

step "Sending null for a key deletes it (JSON Merge Patch)."
call "session_id=$ID" -b "$JAR" -H 'Content-Type: application/json' -H "X-CSRF-Token: $TOKEN" -d '{"size":null}' "$BASE/update-session-data"
expect_status 200
grep -q '"size"' <<<"$BODY" && fail "the key size should be gone"

step "Regenerate gives the session a new id (new Set-Cookie) and a new token, and keeps the data."
call "session_id=$ID" -b "$JAR" -c "$JAR" -H "X-CSRF-Token: $TOKEN" -X POST "$BASE/regenerate-session"
expect_status 200
expect_body '"color":"red"'
NEW_ID="$(jar_session_id)"
[ -n "$NEW_ID" ] && [ "$NEW_ID" != "$ID" ] || fail "expected a new session id in the jar"
TOKEN="$(json_string csrf_token)"
echo "   The old id now finds nothing:"
call "session_id=$ID" -H "Cookie: session_id=$ID" "$BASE/get-session-data"
expect_body '"active":false'

step "Clear deletes the session on the server and expires the cookie (Max-Age=0), so curl drops it from the jar."
call "session_id=$NEW_ID" -b "$JAR" -c "$JAR" -H "X-CSRF-Token: $TOKEN" -X POST "$BASE/clear-session"
expect_status 200
expect_body '"active":false'
grep -qiE '^set-cookie: session_id=;.*(max-age=0|expires=)' "$WORK/headers" || fail "expected an expiring Set-Cookie"
[ -z "$(jar_session_id)" ] || fail "the jar still holds a session_id"
echo "   The cleared id finds nothing either:"
call "session_id=$NEW_ID" -H "Cookie: session_id=$NEW_ID" "$BASE/get-session-data"
expect_body '"active":false'

printf '\n%sAll %d steps behaved as described.%s\n' "$BOLD" "$STEP" "$RESET"

#!/usr/bin/env bash
# Session fixation (lesson 10), played with curl and two cookie jars: the
# attacker's and the learner's.
#
#   scripts/curl-fixation.sh [BASE_URL] [LAB_URL]
#   scripts/curl-fixation.sh --help
#
# BASE_URL is the learner's site (default http://127.0.0.1:3000), LAB_URL
# the lab, another port of the same host (default: BASE_URL's host, port
# 3001). The learner's client visits the lab, which plants a session id in
# the learner's jar (curl's jar, like a browser, keeps cookies per host, not
# per port); the learner logs in; the attacker, holding a copy of the
# planted id, asks GET /me with it. With the fixation defence the login gave
# the session a new id, so the attacker gets 401; against a server started
# with --unsafe-keep-id-on-login the attacker is logged in as the learner.
# The script exits 0 only when the outcome matches the server's own
# fixation_defence. Every command is printed as it runs, and runs as
# printed (each curl request with -sS -o .body -D .headers -w '%{http_code}'
# added, said once at the start); ids are held in shell variables.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

usage() {
  cat <<'EOF'
Usage: scripts/curl-fixation.sh [BASE_URL] [LAB_URL]

Plays session fixation against a running ajax-sessions server with its lab
on (default BASE_URL http://127.0.0.1:3000, LAB_URL the same host on port
3001; start one with `cargo run`, or `cargo run -- --unsafe-keep-id-on-login`
to watch the attack work). Two cookie jars: learner.txt and attacker.txt.
The lab plants a session id into the learner's jar, the learner logs in as
alice, and the attacker tries GET /me with the planted id: 401 when the
login gave the session a new id, 200 as alice when the server keeps the id
on login. Exits 0 only when that outcome is the one the server's
fixation_defence promises.
EOF
}

# shellcheck source=scripts/lib/story.sh
. "$HERE/lib/story.sh"
story_begin "$@"
# The host of an URL (http://HOST:PORT/…), lowercased.
host_of() {
  sed -E 's#^[a-zA-Z]+://(\[[^]]*\]|[^:/]*).*#\1#' <<<"$1" | tr 'A-Z' 'a-z'
}
case "${2:-}" in
  -*) echo "unknown option: $2" >&2; usage >&2; exit 2 ;;
esac
LAB="${2:-http://$(host_of "$BASE"):3001}"
LAB="${LAB%/}"

# The commands that read a jar's session id into a shell variable, and the
# learner's CSRF token, printed like the others.
READ_ID="ID=\$(awk -F '\\t' '\$6 == \"session_id\" { print \$7 }' learner.txt)"
READ_TOKEN="TOKEN=\$(curl -s -b learner.txt $BASE/get-session-data | sed -n 's/.*\"csrf_token\":\"\\([^\"]*\\)\".*/\\1/p')"

# The value of a JSON string or boolean member in BODY (flat enough here).
member() {
  sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" <<<"$BODY" | head -n 1
}

echo "${BOLD}ajax-sessions: session fixation, told with curl against $BASE and its lab at $LAB${RESET}"
echo "Each curl request below runs with -sS -o .body -D .headers -w '%{http_code}' added, so that"
echo "this script can show its headers and check its status; typed as printed, it prints the reply."
curl -sSf -o /dev/null "$BASE/healthz" || fail "no server at $BASE: start it with cargo run"
curl -sS -o /dev/null "$LAB/" || fail "no lab at $LAB: start the server with the lab on (--lab-port 3001, the default)"
[ "$(host_of "$BASE")" = "$(host_of "$LAB")" ] \
  || fail "the lab must be on the same host as the site (cookies ignore ports, not hosts): $LAB is not on $(host_of "$BASE")"

step "What this server promises: fixation_defence true means a login gives the session a new id; false (--unsafe-keep-id-on-login) means it keeps the id."
call "" "curl $BASE/get-session-data"
expect_status 200
DEFENCE=$(member fixation_defence)
[ "$DEFENCE" = true ] || [ "$DEFENCE" = false ] || fail "the reply has no fixation_defence"
echo "   This server's fixation_defence is $DEFENCE."

step "The learner uses the site: a session of their own, in the learner's jar."
call "" "curl -c learner.txt -H 'Content-Type: application/json' -d '{\"cart\":\"3 books\"}' $BASE/update-session-data"
expect_status 200
shown "$READ_ID"
[ -n "$ID" ] || fail "the learner's jar holds no session_id"
shown "OWN_ID=\$ID"

step "The learner's client opens the attacker's page on the other port, whose server plants a session id: a new session, its id in Set-Cookie without Domain. The jar keeps it for the host, whatever the port, so it replaces the learner's own session_id."
shown "PROBE=fixation-\$RANDOM\$RANDOM"
call "session_id=$ID" "curl -b learner.txt -c learner.txt -H 'Origin: $LAB' -X POST \"$LAB/lab/plant?probe=\$PROBE\""
expect_status 200
expect_body '"planted_fingerprint":"'
PLANTED_FINGERPRINT=$(member planted_fingerprint)
grep -qi '^set-cookie: session_id=.*HttpOnly' .headers || fail "expected the lab to set session_id"
grep -i '^set-cookie: session_id=' .headers | grep -qi 'domain=' && fail "the planted cookie must have no Domain"
shown "$READ_ID"
[ -n "$ID" ] && [ "$ID" != "$OWN_ID" ] || fail "the learner's jar should now hold the planted id"

step "The attacker keeps a copy of the id it planted (its lab remembers it), in the attacker's own jar."
shown "grep session_id learner.txt > attacker.txt"
shown "PLANTED=\$(awk -F '\\t' '\$6 == \"session_id\" { print \$7 }' attacker.txt)"
[ "$PLANTED" = "$ID" ] || fail "the attacker's jar should hold the planted id"

step "The learner's next request to the site carries the planted id: the site finds the attacker's session (the learner's cart is not in it)."
call "session_id=$ID" "curl -b learner.txt $BASE/get-session-data"
expect_status 200
expect_body '"active":true'
expect_body "\"id_fingerprint\":\"$PLANTED_FINGERPRINT\""
grep -q '"cart"' <<<"$BODY" && fail "the planted session should not hold the learner's data"

step "The learner logs in as alice, on the session the planted id names."
shown "$READ_TOKEN"
call "session_id=$ID" "curl -b learner.txt -c learner.txt -H \"X-CSRF-Token: \$TOKEN\" -H 'Content-Type: application/json' -d '{\"username\":\"alice\",\"password\":\"wonderland\"}' $BASE/login"
expect_status 200
expect_body '"user":"alice"'
shown "$READ_ID"
if [ "$DEFENCE" = true ]; then
  [ "$ID" != "$PLANTED" ] || fail "with the fixation defence the login must give a new id"
  echo "   The login gave the session a new id: the learner's jar no longer holds the planted one."
else
  [ "$ID" = "$PLANTED" ] || fail "under --unsafe-keep-id-on-login the login keeps the id"
  echo "   The login kept the session's id: the learner's jar still holds the planted one."
fi

step "The attacker asks its lab what the planted id finds now."
call "" "curl \"$LAB/lab/planted?probe=\$PROBE\""
expect_status 200
if [ "$DEFENCE" = true ]; then
  expect_body '"active":false'
else
  expect_body '"user":"alice"'
fi

step "The attacker uses its copy of the planted id: GET /me with the attacker's jar."
call "session_id=$PLANTED" "curl -b attacker.txt $BASE/me"
if [ "$STATUS" = 200 ] && grep -q '"user":"alice"' <<<"$BODY"; then
  [ "$DEFENCE" = false ] || fail "the attacker is logged in as alice although the server says fixation_defence is true"
  printf '\n%sSession fixation WORKED: the attacker, with the id it planted, is logged in as alice.%s\n' "$BOLD" "$RESET"
  echo "This server runs with --unsafe-keep-id-on-login, so the login kept the planted id (fixation_defence: false)."
elif [ "$STATUS" = 401 ]; then
  expect_body '"code":"not_logged_in"'
  [ "$DEFENCE" = true ] || fail "the attack failed although the server says fixation_defence is false"
  printf '\n%sSession fixation failed: the planted id finds nothing (401), because the login gave the session a new id.%s\n' "$BOLD" "$RESET"
else
  fail "expected 401 or 200 as alice, got HTTP $STATUS"
fi
printf '%sAll %d steps behaved as the server'"'"'s fixation_defence (%s) says.%s\n' "$BOLD" "$STEP" "$DEFENCE" "$RESET"

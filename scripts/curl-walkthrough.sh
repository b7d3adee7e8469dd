#!/usr/bin/env bash
# The cookie-and-session story told with curl and a cookie jar.
#
#   scripts/curl-walkthrough.sh [BASE_URL]     (default http://127.0.0.1:3000)
#   scripts/curl-walkthrough.sh --help
#
# Each step prints what it shows, the commands, the Cookie / Set-Cookie
# headers involved and the JSON reply, then checks the result; the script
# stops with a non-zero exit at the first step whose result is not what it
# says. Every command is printed as you would type it, and runs as printed:
# paste them, in order, into a shell in an empty folder and they tell the
# same story. To show the headers and check the status, the script runs each
# request with `-sS -o .body -D .headers -w '%{http_code}'` added (it says
# so once, at the start). Session ids
# and tokens are held in shell variables (ID, OLD_ID, TOKEN), so they are
# never printed whole.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"

usage() {
  cat <<'EOF'
Usage: scripts/curl-walkthrough.sh [BASE_URL]

Tells the cookie-and-session story of ajax-sessions with curl and a cookie
jar, against a running server (default http://127.0.0.1:3000; start one
with `cargo run`). Each step prints a one-line explanation, the commands as
they run, the Cookie and Set-Cookie headers and the JSON reply, and checks
the result; the script exits non-zero at the first step that does not
behave as described.

See idle expiry with scripts/curl-expiry.sh against a server started with
a short timeout (cargo run -- --idle-timeout 5).
EOF
}

# shellcheck source=scripts/lib/story.sh
. "$HERE/lib/story.sh"
story_begin "$@"

# The commands that put the jar's session id and the session's CSRF token
# into shell variables, printed like the others.
READ_ID="ID=\$(awk -F '\\t' '\$6 == \"session_id\" { print \$7 }' cookies.txt)"
READ_TOKEN="TOKEN=\$(curl -s -b cookies.txt $BASE/get-session-data | sed -n 's/.*\"csrf_token\":\"\\([^\"]*\\)\".*/\\1/p')"

echo "${BOLD}ajax-sessions: cookies and sessions, told with curl against $BASE${RESET}"
echo "Each curl request below runs with -sS -o .body -D .headers -w '%{http_code}' added, so that"
echo "this script can show its headers and check its status; typed as printed, it prints the reply."
curl -sSf -o /dev/null "$BASE/healthz" || fail "no server at $BASE: start it with cargo run"

step "Without a cookie the server knows no session: it answers with an empty state and sets no cookie."
call "" "curl $BASE/get-session-data"
expect_status 200
expect_body '"active":false'
grep -qi '^set-cookie:' .headers && fail "a GET without a session must not set a cookie"

step "A POST creates the session: the server keeps the data and sends Set-Cookie: session_id=…; HttpOnly. curl's jar (-c) stores it; the id and token go into shell variables."
call "" "curl -c cookies.txt -H 'Content-Type: application/json' -d '{\"color\":\"blue\",\"size\":\"large\"}' $BASE/update-session-data"
expect_status 200
expect_body '"color":"blue"'
grep -qi '^set-cookie: session_id=.*HttpOnly' .headers || fail "expected Set-Cookie: session_id=…; HttpOnly"
shown "$READ_ID"
[ -n "$ID" ] || fail "the jar holds no session_id"
shown "$READ_TOKEN"
[ -n "$TOKEN" ] || fail "the session has no csrf_token"

step "A GET with the jar (-b) sends the cookie back; the server finds the session and its data."
call "session_id=$ID" "curl -b cookies.txt $BASE/get-session-data"
expect_status 200
expect_body '"active":true'
expect_body '"color":"blue"'

step "The same GET without the jar finds nothing: the cookie is the only link between a client and its session."
call "" "curl $BASE/get-session-data"
expect_status 200
expect_body '"active":false'

step "A POST that carries the cookie but not the CSRF token is refused with 403 by the token check (the reply still lists the cookie that came)."
call "session_id=$ID" "curl -b cookies.txt -H 'Content-Type: application/json' -d '{\"color\":\"red\"}' $BASE/update-session-data"
expect_status 403
expect_body '"code":"csrf_token_missing"'
expect_body '"cookies_received":\["session_id"\]'

step "A POST from another origin is refused before the token is looked at: the Origin check (403 cross_origin_rejected). A browser on another site would not even send this SameSite=Lax cookie."
call "session_id=$ID" "curl -b cookies.txt -H 'Origin: http://evil.example' -H \"X-CSRF-Token: \$TOKEN\" -H 'Content-Type: application/json' -d '{\"color\":\"red\"}' $BASE/update-session-data"
expect_status 403
expect_body '"code":"cross_origin_rejected"'

step "With the token in X-CSRF-Token and no foreign Origin, the same POST is accepted."
call "session_id=$ID" "curl -b cookies.txt -H \"X-CSRF-Token: \$TOKEN\" -H 'Content-Type: application/json' -d '{\"color\":\"red\"}' $BASE/update-session-data"
expect_status 200
expect_body '"color":"red"'

step "Sending null for a key deletes it (JSON Merge Patch)."
call "session_id=$ID" "curl -b cookies.txt -H \"X-CSRF-Token: \$TOKEN\" -H 'Content-Type: application/json' -d '{\"size\":null}' $BASE/update-session-data"
expect_status 200
grep -q '"size"' <<<"$BODY" && fail "the key size should be gone"

step "Regenerate gives the session a new id (new Set-Cookie) and a new token, and keeps the data; the old id finds nothing."
shown "OLD_ID=\$ID"
call "session_id=$ID" "curl -b cookies.txt -c cookies.txt -H \"X-CSRF-Token: \$TOKEN\" -X POST $BASE/regenerate-session"
expect_status 200
expect_body '"color":"red"'
shown "$READ_ID"
[ -n "$ID" ] && [ "$ID" != "$OLD_ID" ] || fail "expected a new session id in the jar"
shown "$READ_TOKEN"
echo "   The old id now finds nothing:"
call "session_id=$OLD_ID" "curl -H \"Cookie: session_id=\$OLD_ID\" $BASE/get-session-data"
expect_body '"active":false'
expect_body '"reason":"unknown_or_expired"'

step "Clear deletes the session on the server and expires the cookie (Max-Age=0), so curl drops it from the jar."
call "session_id=$ID" "curl -b cookies.txt -c cookies.txt -H \"X-CSRF-Token: \$TOKEN\" -X POST $BASE/clear-session"
expect_status 200
expect_body '"active":false'
grep -qiE '^set-cookie: session_id=;.*(max-age=0|expires=)' .headers || fail "expected an expiring Set-Cookie"
grep -q 'session_id' cookies.txt && fail "the jar still holds a session_id"
echo "   The cleared id finds nothing either:"
call "session_id=$ID" "curl -H \"Cookie: session_id=\$ID\" $BASE/get-session-data"
expect_body '"reason":"unknown_or_expired"'

step "Logging in. A new session (a POST, as in step 2) asks GET /me who is logged in: no one, 401 not_logged_in."
call "" "curl -c cookies.txt -H 'Content-Type: application/json' -d '{\"cart\":\"3 books\"}' $BASE/update-session-data"
expect_status 200
shown "$READ_ID"
[ -n "$ID" ] || fail "the jar holds no session_id"
shown "$READ_TOKEN"
call "session_id=$ID" "curl -b cookies.txt $BASE/me"
expect_status 401
expect_body '"code":"not_logged_in"'

step "A wrong password is refused (401 invalid_credentials, the same answer as for an unknown user) and changes nothing: no Set-Cookie, the same id."
call "session_id=$ID" "curl -b cookies.txt -c cookies.txt -H \"X-CSRF-Token: \$TOKEN\" -H 'Content-Type: application/json' -d '{\"username\":\"alice\",\"password\":\"guess\"}' $BASE/login"
expect_status 401
expect_body '"code":"invalid_credentials"'
grep -qi '^set-cookie:' .headers && fail "a refused login must not set a cookie"
shown "OLD_ID=\$ID"
shown "$READ_ID"
[ "$ID" = "$OLD_ID" ] || fail "a refused login must keep the id"

step "The right password logs alice in. A login is a privilege change, so the session gets a new id (new Set-Cookie, without Max-Age: a browser-session cookie, since remember is false) and a new CSRF token, and keeps its data; the old id finds nothing."
shown "OLD_TOKEN=\$TOKEN"
call "session_id=$ID" "curl -b cookies.txt -c cookies.txt -H \"X-CSRF-Token: \$TOKEN\" -H 'Content-Type: application/json' -d '{\"username\":\"alice\",\"password\":\"wonderland\",\"remember\":false}' $BASE/login"
expect_status 200
expect_body '"user":"alice"'
expect_body '"cart":"3 books"'
grep -qi '^set-cookie: session_id=.*HttpOnly' .headers || fail "expected a new Set-Cookie: session_id=…"
grep -i '^set-cookie: session_id=' .headers | grep -qiE 'max-age|expires' && fail "without remember the cookie must have no Max-Age"
shown "$READ_ID"
[ -n "$ID" ] && [ "$ID" != "$OLD_ID" ] || fail "expected a new session id in the jar"
shown "$READ_TOKEN"
[ -n "$TOKEN" ] && [ "$TOKEN" != "$OLD_TOKEN" ] || fail "expected a new CSRF token"
echo "   The id from before the login finds nothing:"
call "session_id=$OLD_ID" "curl -H \"Cookie: session_id=\$OLD_ID\" $BASE/get-session-data"
expect_body '"reason":"unknown_or_expired"'
echo "   The new id is alice's: GET /me answers."
call "session_id=$ID" "curl -b cookies.txt $BASE/me"
expect_status 200
expect_body '"user":"alice"'

step "Log out deletes the session on the server and expires the cookie; GET /me is 401 again."
call "session_id=$ID" "curl -b cookies.txt -c cookies.txt -H \"X-CSRF-Token: \$TOKEN\" -X POST $BASE/logout"
expect_status 200
grep -qiE '^set-cookie: session_id=;.*(max-age=0|expires=)' .headers || fail "expected an expiring Set-Cookie"
call "" "curl -b cookies.txt $BASE/me"
expect_status 401
expect_body '"code":"not_logged_in"'
echo "   The logged-out id finds nothing either:"
call "session_id=$ID" "curl -H \"Cookie: session_id=\$ID\" $BASE/me"
expect_status 401

printf '\n%sAll %d steps behaved as described.%s\n' "$BOLD" "$STEP" "$RESET"
echo "Idle expiry has a script of its own: scripts/curl-expiry.sh, against a server started with --idle-timeout 5."
echo "Session fixation too: scripts/curl-fixation.sh, against a server with the lab on (the default)."

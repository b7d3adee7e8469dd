# What the walkthrough scripts share: numbered steps, the first failure
# ending the story, and commands printed as they run (a request's helper
# may add curl's output options; its script says so). Sourced by
# scripts/*.sh, not run by itself.

STEP=0
STATUS=""
BODY=""

if [ -t 1 ]; then BOLD=$'\e[1m'; DIM=$'\e[2m'; RESET=$'\e[0m'; else BOLD=""; DIM=""; RESET=""; fi

# story_begin "$@": the options every curl story takes (--help, which
# calls the script's usage, and an optional BASE_URL); sets BASE, and moves
# into a fresh folder WORK, removed at exit, so the jar is cookies.txt as
# printed.
story_begin() {
  case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
  BASE="${1:-http://127.0.0.1:3000}"
  BASE="${BASE%/}"
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
  cd "$WORK"
}

# fail MESSAGE: names the step that went wrong and exits non-zero.
fail() {
  echo "FAILED at step $STEP: $*" >&2
  exit 1
}

# step EXPLANATION: starts the next numbered step.
step() {
  STEP=$((STEP + 1))
  printf '\n%s%d. %s%s\n' "$BOLD" "$STEP" "$1" "$RESET"
}

# shown COMMAND: prints a shell command, then runs exactly that text in
# this shell (so an assignment it makes stays).
shown() {
  printf '%s$ %s%s\n' "$DIM" "$1" "$RESET"
  eval "$1"
}

# Shortens session_id values so the output shows ids change without
# printing whole secrets.
shorten_ids() {
  sed -E 's/(session_id=)([A-Za-z0-9_-]{6})[A-Za-z0-9_-]*/\1\2…/g'
}

expect_status() {
  [ "$STATUS" = "$1" ] || fail "expected HTTP $1, got $STATUS"
}

expect_body() {
  grep -q -- "$1" <<<"$BODY" || fail "expected the reply to contain $1"
}

pretty_json() {
  if command -v python3 >/dev/null 2>&1 && python3 -m json.tool <<<"$1" >/dev/null 2>&1; then
    python3 -m json.tool <<<"$1"
  else
    printf '%s\n' "$1"
  fi
}

# call COOKIE-SENT CURL-COMMAND
# Prints the command and runs that text with curl told to keep the status,
# headers and body aside (the options the start of the run names); then
# prints the Cookie sent, the Set-Cookie received, the status and the JSON,
# and sets STATUS and BODY.
call() {
  local cookie_sent="$1" command="$2"
  printf '%s$ %s%s\n' "$DIM" "$command" "$RESET"
  [ -n "$cookie_sent" ] && printf '   > Cookie: %s\n' "$cookie_sent" | shorten_ids
  STATUS=$(eval "$command -sS -o .body -D .headers -w '%{http_code}'") \
    || fail "curl could not reach the server (is it running? cargo run)"
  BODY=$(cat .body)
  grep -i '^set-cookie:' .headers | tr -d '\r' | sed 's/^/   < /' | shorten_ids || true
  printf '   < HTTP %s\n' "$STATUS"
  pretty_json "$BODY" | sed 's/^/   /'
}

#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: what the
# session machinery costs, in a figure that does not depend on how fast the
# machine is or what else runs on it. bench/run.sh measures time, which
# does; on a shared machine the same binary's GET/ceiling ratio has moved
# from 0.81 to 0.70 between days (BENCHMARKS.md).
# One command, from a clean clone:   bench/instructions.sh
#
# Three targets, the same requests as bench/run.sh's a. to c.:
#   c. GET /bench/ceiling;
#   a. GET /get-session-data with a live session;
#   b. POST /update-session-data with a live session, its token, a small body.
# For each, the app runs under callgrind twice, answering REQUESTS (default
# 2,000) and then twice as many keep-alive requests from one client after a
# warm-up, each request in one write; the difference of the two totals,
# divided by REQUESTS, is one request without start-up, warm-up and
# shutdown. The kernel's share (TCP on loopback) is not counted.
#
# STORE=redis counts the same with the app on a private redis-server
# (Redis's own instructions are not counted; one client, so each request
# pays for a whole batch of the Redis client, which under load many share).
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS="${REQUESTS:-2000}"
# shellcheck source=bench/lib.sh
source bench/lib.sh

STORE_ARGS=()
if [ "${STORE:-memory}" = redis ]; then
  command -v redis-server >/dev/null || { echo "STORE=redis needs redis-server" >&2; exit 1; }
  REDIS_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  taskset -c 1 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >/dev/null &
  PIDS+=("$!")
  for _ in $(seq 250); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.02; done
  STORE_ARGS=(--store "redis://127.0.0.1:$REDIS_PORT")
fi

if ! command -v valgrind >/dev/null; then
  echo "installing: valgrind"
  apt-get update -q
  apt-get install -y -q --no-install-recommends valgrind
fi

# The same build as bench/run.sh, in the same target directory.
export CARGO_TARGET_DIR="${BENCH_TARGET_DIR:-target/bench}"
cargo build --release --quiet --features bench-ceiling --bin ajax-sessions
SERVER="$CARGO_TARGET_DIR/release/ajax-sessions"

# total TARGET COUNT: sets TOTAL to the instructions of one server run that
# answers COUNT requests of TARGET (after the warm-up), start to exit.
total() {
  local target="$1" count="$2" profile="$WORK/$1-$2.cg"
  start "$target-$count" valgrind --tool=callgrind --callgrind-out-file="$profile" \
    "$SERVER" --port 0 --lab-port 0 "${STORE_ARGS[@]}"
  python3 - "$STARTED_URL" "$target" "$count" <<'PY'
import http.client, json, sys, urllib.parse
url, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
host = urllib.parse.urlparse(url)
class OneWrite(http.client.HTTPConnection):
    """Sends a request's head and body in one write, as wrk (bench/run.sh)
    does. http.client writes them apart, and a body that arrives after its
    head parks the server's worker one more time now and then: POST's count
    then moved by up to 1.9k from run to run."""
    def _send_output(self, message_body=None, encode_chunked=False):
        self._buffer.extend((b"", b""))
        head = b"\r\n".join(self._buffer)
        del self._buffer[:]
        self.send(head + (message_body or b""))
conn = OneWrite(host.hostname, host.port)
def send(method, path, body=None, headers={}):
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read()
    assert response.status == 200, (path, response.status, text)
    return response, text
# A live session with data, as in bench/run.sh.
created, text = send("POST", "/update-session-data", b'{"color":"blue"}', {"Content-Type": "application/json"})
cookie = created.getheader("Set-Cookie").split(";")[0]
token = json.loads(text)["csrf_token"]
requests = {
    "ceiling": ("GET", "/bench/ceiling", None, {}),
    "get": ("GET", "/get-session-data", None, {"Cookie": cookie}),
    "post": ("POST", "/update-session-data", b'{"color":"blue"}',
             {"Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": token}),
}
method, path, body, headers = requests[target]
for _ in range(50 + count):
    send(method, path, body, headers)
conn.close()
PY
  kill -INT "$STARTED_PID"
  wait "$STARTED_PID"
  TOTAL="$(sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$profile" | head -n 1)"
}

declare -A PER_REQUEST
for target in ceiling get post; do
  echo "counting $target"
  total "$target" "$REQUESTS"
  once="$TOTAL"
  total "$target" $((2 * REQUESTS))
  PER_REQUEST[$target]=$(((TOTAL - once) / REQUESTS))
done

echo
echo "instructions per request (callgrind; $REQUESTS requests, one keep-alive client, ${STORE:-memory} store)"
echo
echo "| target | instructions | ceiling ÷ target |"
echo "|---|---:|---:|"
row() {
  python3 -c 'import sys; label, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]); print(f"| {label} | {n:,} | {c / n:.3f} |")' \
    "$1" "${PER_REQUEST[$2]}" "${PER_REQUEST[ceiling]}"
}
row "c. ceiling: same app, same JSON, no session machinery" ceiling
row "a. GET /get-session-data (live session)" get
row "b. POST /update-session-data (live session, token)" post

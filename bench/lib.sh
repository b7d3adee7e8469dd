# Shared by the bench scripts, sourced from the project's root: a scratch
# folder (WORK) and the servers started into it (PIDS), both cleaned up at
# exit, and `start`.
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME COMMAND...: starts a server pinned to CPU 0 and waits for its
# `listening on` line; sets STARTED_URL and STARTED_PID.
start() {
  local name="$1"
  shift
  taskset -c 0 "$@" >"$WORK/$name.out" 2>/dev/null &
  STARTED_PID="$!"
  PIDS+=("$STARTED_PID")
  for _ in $(seq 250); do
    if grep -q '^listening on ' "$WORK/$name.out"; then
      STARTED_URL="$(sed -n 's/^listening on //p' "$WORK/$name.out")"
      return
    fi
    sleep 0.02
  done
  echo "$name did not start" >&2
  exit 1
}

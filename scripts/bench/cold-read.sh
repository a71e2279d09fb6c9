#!/usr/bin/env bash
# Cold-read benchmark (not a test): does a consumer catching up on data that is no longer in the
# page cache stall the broker's other clients? Starts a standalone broker, writes RECORDS x 1 KiB
# (default 100000) with strata-bench, then runs scripts/bench/cold_read_probe.py: evicts the
# segments from the page cache and times ApiVersions round trips on a second connection while
# kcat reads the topic from the beginning.
#
#   scripts/bench/cold-read.sh [RECORDS]
#
# As root on a cgroup-v1 machine (/sys/fs/cgroup/blkio), the broker's disk reads are also
# throttled to STRATA_COLD_READ_BPS bytes/s (default 20 MiB/s) so that a wait on the disk is
# long enough to see; elsewhere the disk runs at its own speed. STRATA_BUILD_DIR and
# STRATA_BENCH_NO_BUILD=1 as in broker.sh; STRATA_BROKER_BIN runs another broker binary
# (e.g. an older build, for comparison).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
RECORDS="${1:-100000}"
BPS="${STRATA_COLD_READ_BPS:-20971520}"
source "$ROOT/scripts/bench/lib.sh"

if [[ -z "${STRATA_BENCH_NO_BUILD:-}" ]]; then
    bench_build "$BUILD" strata-broker strata-bench
fi
BROKER_BIN="${STRATA_BROKER_BIN:-$BUILD/strata-broker}"

DATA="$(mktemp -d "${TMPDIR:-/tmp}/strata-cold-read.XXXXXX")"
PORT="$(bench_free_port)"
CGROUP=/sys/fs/cgroup/blkio/strata-cold-read
BROKER_PID=""
cleanup() {
    if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        [[ -d "$CGROUP" ]] && echo "$BROKER_PID" >/sys/fs/cgroup/blkio/cgroup.procs 2>/dev/null || true
        kill -TERM "$BROKER_PID"
        wait "$BROKER_PID" || true
    fi
    [[ -d "$CGROUP" ]] && rmdir "$CGROUP" 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT

"$BROKER_BIN" "$ROOT/config/server.properties" \
    --override broker.id=0 \
    --override "listeners=PLAINTEXT://127.0.0.1:$PORT" \
    --override "advertised.listeners=PLAINTEXT://127.0.0.1:$PORT" \
    --override "log.dirs=$DATA/data" >"$DATA/broker.log" 2>&1 &
BROKER_PID=$!
bench_wait_broker "127.0.0.1:$PORT" "$BROKER_PID" "$DATA/broker.log"

"$BUILD/strata-bench" --bootstrap "127.0.0.1:$PORT" --no-mock --no-pin --reps 1 --acks 1 \
    --sizes 1024 --records "$RECORDS" >/dev/null 2>"$DATA/bench.err" || { cat "$DATA/bench.err" >&2; exit 1; }
TOPIC="$(basename "$(ls -d "$DATA"/data/bench-1024-1-*-0 | head -1)")"
TOPIC="${TOPIC%-0}"

THROTTLE="none"
DEV="$(findmnt -n -o MAJ:MIN --target "$DATA" 2>/dev/null | tr -d ' ' || true)"
if [[ -w /sys/fs/cgroup/blkio && -n "$DEV" ]] && mkdir -p "$CGROUP" 2>/dev/null &&
    echo "${DEV%:*}:0 $BPS" >"$CGROUP/blkio.throttle.read_bps_device" 2>/dev/null &&
    echo "$BROKER_PID" >"$CGROUP/cgroup.procs" 2>/dev/null; then
    THROTTLE="$BPS bytes/s on ${DEV%:*}:0"
fi
echo "cold-read.sh: broker $BROKER_BIN, $RECORDS x 1 KiB, disk read throttle: $THROTTLE" >&2
python3 "$ROOT/scripts/bench/cold_read_probe.py" "$PORT" "$DATA/data" "$TOPIC"

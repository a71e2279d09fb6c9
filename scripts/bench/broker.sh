#!/usr/bin/env bash
# Broker benchmark (issue 4): builds Release in build/, starts a standalone strata-broker on a
# free loopback port with a throw-away data directory, runs build/strata-bench against it and
# against librdkafka's mock cluster in the same run, prints the tables (Markdown, as pasted into
# docs/performance.md, section "Broker"), and stops the broker.
#
#   scripts/bench/broker.sh [strata-bench args...]     e.g. --records 200000 --sizes 1024
#
# STRATA_BUILD_DIR picks another (Release) build directory; STRATA_BENCH_NO_BUILD=1 uses the
# binaries already there. On 2+ CPUs the broker runs on CPU 0 and strata-bench pins its client
# threads to CPU 1 (and the mock's to CPU 0); STRATA_BENCH_NO_PIN=1 leaves placement to the
# scheduler for both.
#
# Not a test: nothing here asserts a duration.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
source "$ROOT/scripts/bench/lib.sh"

if [[ -z "${STRATA_BENCH_NO_BUILD:-}" ]]; then
    bench_build "$BUILD" strata-broker strata-bench
fi

DATA="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")"
PORT="$(bench_free_port)"
BROKER_PID=""
cleanup() {
    if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID"
        wait "$BROKER_PID" || true
    fi
    rm -rf "$DATA"
}
trap cleanup EXIT

# Socket buffers: the OS defaults (autotuned), as librdkafka's mock cluster uses, instead of
# config/server.properties' Kafka values (100 KB fixed), which cap each sendfile/read at a
# few hundred KB and cost the broker extra wake-ups; same footing for both targets.
PIN_BROKER=()
PIN_BENCH=()
if [[ -n "${STRATA_BENCH_NO_PIN:-}" ]]; then
    PIN_BENCH=(--no-pin)
elif [[ "$(nproc 2>/dev/null || echo 1)" -ge 2 ]]; then
    PIN_BROKER=(taskset -c 0)
fi
"${PIN_BROKER[@]}" "$BUILD/strata-broker" "$ROOT/config/server.properties" \
    --override broker.id=0 \
    --override socket.send.buffer.bytes=-1 \
    --override socket.receive.buffer.bytes=-1 \
    --override "listeners=PLAINTEXT://127.0.0.1:$PORT" \
    --override "advertised.listeners=PLAINTEXT://127.0.0.1:$PORT" \
    --override "log.dirs=$DATA/data" >"$DATA/broker.log" 2>&1 &
BROKER_PID=$!

bench_wait_broker "127.0.0.1:$PORT" "$BROKER_PID" "$DATA/broker.log"

echo "broker.sh: $(uname -m), $(nproc) cores, $(uname -r); broker on 127.0.0.1:$PORT, data in $DATA" >&2
"$BUILD/strata-bench" --bootstrap "127.0.0.1:$PORT" --broker-pid "$BROKER_PID" "${PIN_BENCH[@]}" "$@"

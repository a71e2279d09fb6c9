#!/usr/bin/env bash
# Replication benchmark (issue 6): builds Release, starts a throw-away ZooKeeper (scripts/zk.sh)
# and three strata-brokers on two racks on loopback, creates a topic with RF 3
# (min.insync.replicas 2) and one with RF 1, and in the same run measures with
# build/strata-replprod (librdkafka):
#   1. maximum throughput: acks=all to RF 3, then acks=1 to RF 1 (records/s, MB/s);
#   2. produce latency (p50/p99/p999, produce() to delivery report) at half of each maximum.
# Prints a Markdown table (as pasted into docs/performance.md, section "Replication").
#
#   scripts/bench/replication.sh [--records N] [--size BYTES] [--partitions P]
#
# STRATA_BUILD_DIR picks another (Release) build directory; STRATA_BENCH_NO_BUILD=1 uses the
# binaries already there; STRATA_BROKER_OVERRIDES="key=value ..." is passed to every broker
# as --override (e.g. log.writeback.bytes=1048576). Not a test: nothing here asserts a duration.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
RECORDS=300000
SIZE=100
PARTS=3
LAT_SECONDS=${STRATA_BENCH_LAT_SECONDS:-15}

while [[ $# -gt 0 ]]; do
    case $1 in
    --records) RECORDS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --partitions) PARTS=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "replication.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

if [[ -z "${STRATA_BENCH_NO_BUILD:-}" ]]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j2 --target strata-broker strata strata-replprod
fi
"$ROOT/scripts/zk.sh" check || exit 2

DIR="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-repl.XXXXXX")"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    "$ROOT/scripts/zk.sh" stop "$DIR/zk" >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ZK_PORT="$(ZK_OWNER_PID=$$ "$ROOT/scripts/zk.sh" start "$DIR/zk")"
BOOT=""
declare -A RACK=([1]=rack-a [2]=rack-b [3]=rack-a)
EXTRA=()
for kv in ${STRATA_BROKER_OVERRIDES:-}; do
    EXTRA+=(--override "$kv")
done
for id in 1 2 3; do
    port="$(free_port)"
    mkdir -p "$DIR/b$id"
    "$BUILD/strata-broker" "$ROOT/config/server.properties" \
        --override "broker.id=$id" --override "broker.rack=${RACK[$id]}" \
        --override "listeners=PLAINTEXT://127.0.0.1:$port" \
        --override "advertised.listeners=PLAINTEXT://127.0.0.1:$port" \
        --override "log.dirs=$DIR/b$id/data" \
        --override "zookeeper.connect=127.0.0.1:$ZK_PORT/strata" \
        --override "offsets.topic.replication.factor=3" "${EXTRA[@]}" >"$DIR/b$id/broker.log" 2>&1 &
    PIDS+=($!)
    BOOT="${BOOT:+$BOOT,}127.0.0.1:$port"
done
FIRST="${BOOT%%,*}"

# Wait (bounded) until three brokers are registered.
for _ in $(seq 1 300); do
    n="$(kcat -L -b "$FIRST" -m 2 2>/dev/null | grep -c 'broker [0-9]* at' || true)"
    [[ $n == 3 ]] && break
    sleep 0.1
done

"$BUILD/strata" topics --bootstrap-server "$FIRST" --create --topic rf3 --partitions "$PARTS" \
    --replication-factor 3 --config min.insync.replicas=2 >/dev/null
"$BUILD/strata" topics --bootstrap-server "$FIRST" --create --topic rf1 --partitions "$PARTS" \
    --replication-factor 1 >/dev/null
# Wait (bounded) until both topics have leaders everywhere.
for _ in $(seq 1 300); do
    if kcat -L -b "$FIRST" -m 2 -t rf3 2>/dev/null | grep -q "leader [0-9]" &&
        kcat -L -b "$FIRST" -m 2 -t rf1 2>/dev/null | grep -q "leader [0-9]" &&
        ! kcat -L -b "$FIRST" -m 2 2>/dev/null | grep -q "leader -1"; then
        break
    fi
    sleep 0.1
done

run() { # topic acks rate count|--duration
    "$BUILD/strata-replprod" "$BOOT" "$1" --partitions "$PARTS" --acks "$2" --rate "$3" \
        --size "$SIZE" "${@:4}" --set linger.ms=1 --set max.in.flight.requests.per.connection=5 \
        2>>"$DIR/replprod.err" | tail -1
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }

echo "replication.sh: $(uname -m), $(nproc) cores, $(uname -r); 3 brokers + ZooKeeper on loopback;" \
    "$PARTS partitions, $SIZE-byte values" >&2
run rf3 all 0 --count 20000 >/dev/null # warm-up
MAX3="$(run rf3 all 0 --count "$RECORDS")"
MAX1="$(run rf1 1 0 --count "$RECORDS")"
R3="$(field records_per_s "$MAX3")"
R1="$(field records_per_s "$MAX1")"
HALF3=$((R3 / 2))
HALF1=$((R1 / 2))
LAT3="$(run rf3 all "$HALF3" --duration "$LAT_SECONDS")"
LAT1="$(run rf1 1 "$HALF1" --duration "$LAT_SECONDS")"
# A lighter load too: where the latency is the broker's, not the saturated machine's.
LOW=10000
LOW3="$(run rf3 all "$LOW" --duration "$LAT_SECONDS")"
LOW1="$(run rf1 1 "$LOW" --duration "$LAT_SECONDS")"

echo
echo "| run | records/s | MB/s | p50 ms | p99 ms | p999 ms |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
row() { echo "| $1 | $(field records_per_s "$2") | $(field mb_per_s "$2") | $(field p50_ms "$2") | $(field p99_ms "$2") | $(field p999_ms "$2") |"; }
row "acks=all RF 3, max throughput" "$MAX3"
row "acks=1 RF 1, max throughput" "$MAX1"
row "acks=all RF 3 at half max ($HALF3/s)" "$LAT3"
row "acks=1 RF 1 at half max ($HALF1/s)" "$LAT1"
row "acks=all RF 3 at $LOW/s" "$LOW3"
row "acks=1 RF 1 at $LOW/s" "$LOW1"
echo
awk -v a="$R3" -v b="$R1" 'BEGIN { if (b > 0) printf "acks=all RF 3 / acks=1 RF 1 throughput: %.0f %%\n", 100 * a / b }'

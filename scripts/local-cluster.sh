#!/usr/bin/env bash
# local-cluster.sh: a local Strata cluster to look at: one ZooKeeper (Debian's package, through
# scripts/zk.sh) and three brokers on two racks (1: rack-a, 2: rack-b, 3: rack-a), all on
# 127.0.0.1, coordinated under the chroot /strata. Runs in the foreground; Ctrl-C stops the
# brokers (SIGTERM: controlled shutdown) and then ZooKeeper. `./scripts/run.sh --cluster`
# lands here.
#
#   scripts/local-cluster.sh [--dir DIR] [--base-port 9092] [--zk-port 2181] [--build DIR]
#                            [--override key=value]...     (passed to every broker)
#
# Data and logs live in DIR (default: data/cluster at the top of the repository), so topics
# survive restarts; delete it to start from scratch. Brokers listen on base-port, +1, +2.
# Try:  kcat -L -b 127.0.0.1:9092
#       build/strata topics --bootstrap-server 127.0.0.1:9092 --create --topic t \
#             --partitions 6 --replication-factor 3
#       build/strata-zkdump 127.0.0.1:2181/strata /brokers
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/data/cluster"
BASE_PORT=9092
ZK_PORT=2181
BUILD="$ROOT/build"
OVERRIDES=()

while [[ $# -gt 0 ]]; do
    case $1 in
    --dir) DIR=$2; shift 2 ;;
    --base-port) BASE_PORT=$2; shift 2 ;;
    --zk-port) ZK_PORT=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --override) OVERRIDES+=(--override "$2"); shift 2 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "local-cluster.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

"$ROOT/scripts/zk.sh" check || exit 2
if [[ ! -x $BUILD/strata-broker ]]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" --target strata-broker strata strata-zkdump
fi

mkdir -p "$DIR/zk"
DIR="$(cd "$DIR" && pwd)"
PIDS=()

cleanup() {
    trap - INT TERM EXIT
    echo "local-cluster.sh: stopping brokers (controlled shutdown) and ZooKeeper" >&2
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    "$ROOT/scripts/zk.sh" stop "$DIR/zk"
    exit 0
}
trap cleanup INT TERM EXIT

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

if "$ROOT/scripts/zk.sh" status "$DIR/zk" 2>/dev/null; then
    echo "local-cluster.sh: ZooKeeper of $DIR already running; stop that cluster first" >&2
    trap - INT TERM EXIT
    exit 1
fi
if port_busy "$ZK_PORT"; then
    echo "local-cluster.sh: port $ZK_PORT is taken; use --zk-port" >&2
    trap - INT TERM EXIT
    exit 1
fi
ZK_OWNER_PID=$$ "$ROOT/scripts/zk.sh" start "$DIR/zk" "$ZK_PORT" >/dev/null
CONNECT="127.0.0.1:$ZK_PORT/strata"
echo "local-cluster.sh: ZooKeeper on 127.0.0.1:$ZK_PORT (log $DIR/zk/zk.log)" >&2

RACKS=(rack-a rack-b rack-a)
for i in 1 2 3; do
    port=$((BASE_PORT + i - 1))
    if port_busy "$port"; then
        echo "local-cluster.sh: port $port is taken; use --base-port" >&2
        exit 1
    fi
    mkdir -p "$DIR/broker-$i"
    listener="PLAINTEXT://127.0.0.1:$port"
    "$BUILD/strata-broker" "$ROOT/config/server.properties" \
        --override "broker.id=$i" \
        --override "broker.rack=${RACKS[$((i - 1))]}" \
        --override "listeners=$listener" \
        --override "advertised.listeners=$listener" \
        --override "log.dirs=$DIR/broker-$i/data" \
        --override "zookeeper.connect=$CONNECT" \
        --override "zookeeper.session.timeout.ms=6000" \
        --override "default.replication.factor=3" \
        --override "offsets.topic.replication.factor=3" \
        --override "num.partitions=3" \
        "${OVERRIDES[@]}" >>"$DIR/broker-$i/broker.log" 2>&1 </dev/null &
    PIDS+=($!)
    echo "local-cluster.sh: broker $i (${RACKS[$((i - 1))]}) on 127.0.0.1:$port, pid $!," \
        "log $DIR/broker-$i/broker.log" >&2
done

echo "local-cluster.sh: bootstrap 127.0.0.1:$BASE_PORT,127.0.0.1:$((BASE_PORT + 1)),127.0.0.1:$((BASE_PORT + 2)); Ctrl-C stops" >&2
# Runs until interrupted or until every broker has exited.
for pid in "${PIDS[@]}"; do
    wait "$pid" || echo "local-cluster.sh: broker pid $pid exited with $?" >&2
done

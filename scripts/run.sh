#!/usr/bin/env bash
# The main job: install missing packages, configure and build a Release build in build/, then run
# a standalone Strata broker in the foreground on 127.0.0.1:9092 (Ctrl-C stops it cleanly).
#
#   ./scripts/run.sh [--override key=value]...   standalone broker, config/server.properties
#   ./scripts/run.sh --cluster [args...]         local ZooKeeper cluster (scripts/local-cluster.sh)
#
# Data lives in $STRATA_DATA_DIR (default: data/standalone at the top of the repository; the
# local cluster uses data/cluster), so topics survive restarts; delete that directory to start
# from scratch.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build"

"$ROOT/scripts/install-deps.sh"

if [[ "${1:-}" == "--cluster" ]]; then
    shift
    exec "$ROOT/scripts/local-cluster.sh" "$@"
fi

jobs="$(nproc 2>/dev/null || echo 2)"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$jobs" --target strata-broker strata

DATA_DIR="${STRATA_DATA_DIR:-$ROOT/data/standalone}"
mkdir -p "$DATA_DIR"
echo "run.sh: standalone broker on 127.0.0.1:9092, data in $DATA_DIR" >&2
exec "$BUILD/strata-broker" "$ROOT/config/server.properties" \
    --override listeners=PLAINTEXT://127.0.0.1:9092 \
    --override advertised.listeners=PLAINTEXT://127.0.0.1:9092 \
    --override "log.dirs=$DATA_DIR" "$@"

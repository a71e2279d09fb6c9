#!/usr/bin/env bash
# Storage benchmark (issue 3): builds build/strata-storage-bench (Release) and runs it in a
# scratch directory on the same disk as the build tree, which it removes afterwards.
#
#   ./scripts/bench/storage.sh            2 GiB per append run, 1 GiB recovery (the issue's sizes)
#   ./scripts/bench/storage.sh --quick    256 MiB runs, for a quick look
#   ./scripts/bench/storage.sh --bytes 512M --recovery-bytes 1G --reps 3 --only append
#
# STRATA_BUILD_DIR (default build/) and STRATA_BENCH_DIR (default: the build dir) override
# where it builds and where it writes. Prints MB/s of log appends beside plain write() of the
# same bytes with the ratio, fsyncs/s with a flush after every batch beside write+fdatasync, and
# the recovery time after an unclean stop.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
DIR="${STRATA_BENCH_DIR:-$BUILD}"

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" --target strata-storage-bench >/dev/null
mkdir -p "$DIR"

# The largest file alive at once is one append run (or the recovery log) plus its indexes.
need_mib=2600
for arg in "$@"; do
    if [[ "$arg" == "--quick" ]]; then
        need_mib=400
    fi
done
avail_mib=$(( $(df -Pk "$DIR" | awk 'NR==2 {print $4}') / 1024 ))
if (( avail_mib < need_mib )); then
    echo "storage.sh: only ${avail_mib} MiB free in $DIR, need about ${need_mib} MiB;" \
         "try --quick or --bytes 512M --recovery-bytes 512M" >&2
    exit 1
fi

echo "disk: $(df -h "$DIR" | awk 'NR==2 {print $1 " (" $2 " total, " $4 " free)"}'), $(nproc) cpu(s)"
exec "$BUILD/strata-storage-bench" --dir "$DIR" "$@"

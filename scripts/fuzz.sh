#!/bin/sh
# fuzz.sh [SECONDS]: builds the libFuzzer target fuzz_request with clang in its own build
# directory (build-fuzz/, or $STRATA_FUZZ_BUILD_DIR) and runs it for SECONDS (default 60)
# over tests/fuzz/corpus. New inputs go to a temporary directory, the seeds stay as they
# are. Exits non-zero on any crash, leak, timeout or sanitizer report; the reproducer is
# left in the build directory (crash-*, leak-*, timeout-*). Warnings are not errors here:
# clang warns about things gcc (the CI compiler) does not, in modules fuzzing does not own.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
bdir=${STRATA_FUZZ_BUILD_DIR:-$root/build-fuzz}

CC=clang cmake -S "$root" -B "$bdir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DSTRATA_FUZZ=ON -DSTRATA_WERROR=OFF >/dev/null
cmake --build "$bdir" --target fuzz_request -j2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
# UBSan is built in recover mode by the top CMakeLists; make any report fatal here.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
"$bdir/fuzz_request" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$bdir/" "$work" "$root/tests/fuzz/corpus"
echo "fuzz.sh: no crash in ${secs}s"

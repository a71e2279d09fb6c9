#!/bin/sh
# fuzz.sh [SECONDS]: builds the libFuzzer targets with clang in their own build directory
# (build-fuzz/, or $STRATA_FUZZ_BUILD_DIR) and runs them one after the other for SECONDS
# in total (default 60), split in half: fuzz_request (the request decoder) over
# tests/fuzz/corpus, then fuzz_records (batch validation, codecs, legacy up-conversion,
# the compacted-topic key check) over tests/fuzz/corpus-records. New inputs go to
# temporary directories, the seeds stay as they are. Exits non-zero on any crash, leak,
# timeout or sanitizer report; the reproducer is left in the build directory (crash-*,
# leak-*, timeout-*). Warnings are not errors here: clang warns about things gcc (the CI
# compiler) does not, in modules fuzzing does not own.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
bdir=${STRATA_FUZZ_BUILD_DIR:-$root/build-fuzz}
first=$((secs / 2))
second=$((secs - first))
[ "$first" -ge 1 ] || first=1
[ "$second" -ge 1 ] || second=1

CC=clang cmake -S "$root" -B "$bdir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DSTRATA_FUZZ=ON -DSTRATA_WERROR=OFF >/dev/null
cmake --build "$bdir" --target fuzz_request fuzz_records -j2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
mkdir "$work/request" "$work/records"
# UBSan is built in recover mode by the top CMakeLists; make any report fatal here.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
run() { # target seconds corpus: libFuzzer's progress goes to $bdir/TARGET.log; its tail is
    # printed on a failure (the report), else only the final statistics.
    log="$bdir/$1.log"
    if "$bdir/$1" -max_total_time="$2" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$bdir/" "$work/$3" "$root/tests/fuzz/$4" \
        >"$log" 2>&1; then
        grep -E '^(Done|stat::)' "$log" | sed "s/^/$1: /"
        return 0
    fi
    tail -n 80 "$log"
    echo "fuzz.sh: $1 failed; the whole log is $log"
    return 1
}
run fuzz_request "$first" request corpus
run fuzz_records "$second" records corpus-records
echo "fuzz.sh: no crash in ${secs}s (fuzz_request ${first}s, fuzz_records ${second}s)"

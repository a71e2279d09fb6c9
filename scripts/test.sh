#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this and nothing else):
#   1. install missing Debian packages, and kafkajs (npm ci) for the integration tests;
#   2. Release build in build/ (as run.sh ships it: -O2, asserts on), the format check, the
#      module-layering check, and (where ../shared exists) that the generated codec is current;
#   3. every ctest test in build/ (unit, integration, slow), two at a time;
#   4. an ASan+UBSan build in build-asan/, the unit tests there, and the tests/integration
#      drivers against its broker;
#   5. the fuzzers (request decoder, record paths) for a bounded time in total (scripts/fuzz.sh 60).
# Every step runs even when an earlier independent one failed; the exit code is non-zero when any
# step failed. A ctest test that fails is run once more on its own: one that passes then is
# reported as FLAKY (with the output of its failed run) and does not fail the step, as Kafka's
# own CI retries a failed test once; one that fails twice fails the step. The closing lines
# (what a CI log tail shows) repeat the output of every failed or flaky test, then list the
# failed steps.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="$(nproc 2>/dev/null || echo 2)"
FUZZ_SECONDS="${STRATA_FUZZ_SECONDS:-60}"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"           # overridable so a developer's run does not
ASAN_BUILD="${STRATA_ASAN_BUILD_DIR:-$ROOT/build-asan}" # clash with another one on the machine
failed=()
passed=()
REPORT="$(mktemp)" # what finish prints last: failed and flaky tests with their output
trap 'rm -f "$REPORT"' EXIT

step() { # step NAME COMMAND...: runs COMMAND, records the outcome under NAME.
    local name="$1"
    shift
    echo "==> test.sh: $name" >&2
    local start=$SECONDS
    if "$@"; then
        passed+=("$name")
        echo "==> test.sh: $name: ok ($((SECONDS - start)) s)" >&2
        return 0
    fi
    failed+=("$name")
    echo "==> test.sh: $name: FAILED ($((SECONDS - start)) s)" >&2
    return 1
}

# test_output DIR NAME: the output ctest recorded for test NAME in its last run in DIR.
test_output() {
    awk -v name="$2" '
        $0 ~ "^[0-9]+/[0-9]+ Testing: " name "$" { on = 1 }
        on { print }
        on && /^"[^"]*" (end time|time elapsed)/ { exit }
    ' "$1/Testing/Temporary/LastTest.log" | tail -n 60
}

# run_ctest LABEL DIR CTEST_ARGS...: ctest, then the failed tests once more (see the header).
run_ctest() {
    local label="$1" dir="$2"
    shift 2
    ctest --test-dir "$dir" --output-on-failure "$@" && return 0
    local list="$dir/Testing/Temporary/LastTestsFailed.log"
    [ -s "$list" ] || return 1
    local first
    first="$(mktemp)"
    cp "$list" "$first"
    local name
    while IFS=: read -r _ name; do
        {
            echo "---- $label: $name failed; its output:"
            test_output "$dir" "$name"
        } >>"$REPORT.$label"
    done <"$first"
    echo "==> test.sh: $label: running the failed tests once more" >&2
    if ctest --test-dir "$dir" --output-on-failure --rerun-failed "$@"; then
        while IFS=: read -r _ name; do
            echo "==> test.sh: FLAKY: $label: $name failed, then passed on its own" >>"$REPORT"
        done <"$first"
        cat "$REPORT.$label" >>"$REPORT"
        rm -f "$first" "$REPORT.$label"
        return 0
    fi
    while IFS=: read -r _ name; do
        if grep -q ":$name\$" "$list"; then
            echo "==> test.sh: FAILED: $label: $name failed twice" >>"$REPORT"
        else
            echo "==> test.sh: FLAKY: $label: $name failed, then passed on its own" >>"$REPORT"
        fi
    done <"$first"
    cat "$REPORT.$label" >>"$REPORT"
    rm -f "$first" "$REPORT.$label"
    return 1
}

finish() {
    [ -s "$REPORT" ] && cat "$REPORT" >&2
    echo "==> test.sh: steps passed: ${passed[*]:-none}" >&2
    if ((${#failed[@]})); then
        echo "==> test.sh: steps FAILED: ${failed[*]}" >&2
        exit 1
    fi
    echo "==> test.sh: all steps passed" >&2
    exit 0
}

npm_ci() { # npm ci, skipped when node_modules already matches package-lock.json.
    local dir="$ROOT/tests/integration"
    if cmp -s "$dir/package-lock.json" "$dir/node_modules/.strata-lock-stamp" 2>/dev/null; then
        return 0
    fi
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) &&
        cp "$dir/package-lock.json" "$dir/node_modules/.strata-lock-stamp"
}

build() { # build DIR CMAKE_ARGS...
    local dir="$1"
    shift
    cmake -S "$ROOT" -B "$dir" "$@" >/dev/null && cmake --build "$dir" -j"$JOBS"
}

step install-deps "$ROOT/scripts/install-deps.sh" || finish
step npm-ci npm_ci || finish

if step build build "$BUILD" -DCMAKE_BUILD_TYPE=Release; then
    step format "$ROOT/scripts/format.sh" --check
    step check-arch "$ROOT/scripts/check-arch.sh"
    # The generated codec must match Kafka's schemas (only where the shared schema folder is).
    if [ -d "$ROOT/../shared/kafka-protocol" ]; then
        step gen-proto python3 "$ROOT/scripts/gen_proto.py" --check
    fi
    # Unit tests, then integration and slow tests (each starts its own broker on its own port).
    step ctest run_ctest ctest "$BUILD" -j2 --timeout 600
fi

if step build-asan build "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=Debug -DSTRATA_SANITIZE=ON; then
    export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
    # libzookeeper_mt's own leaks on session expiry are suppressed (tests/lsan.supp).
    asan_unit() { LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp" run_ctest "$@"; }
    step ctest-asan-unit asan_unit ctest-asan-unit "$ASAN_BUILD" -L unit -j2 --timeout 600
    # The real-client and bad-input drivers once more against the sanitized broker: each
    # broker must exit 0 on SIGTERM with no sanitizer report in its log.
    step ctest-asan-integration run_ctest ctest-asan-integration "$ASAN_BUILD" \
        -R '^integration_' -j2 --timeout 900
    unset ASAN_OPTIONS UBSAN_OPTIONS
fi

step fuzz "$ROOT/scripts/fuzz.sh" "$FUZZ_SECONDS"

finish

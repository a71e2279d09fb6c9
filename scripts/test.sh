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
# step failed, and the closing lines list the failed steps.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="$(nproc 2>/dev/null || echo 2)"
FUZZ_SECONDS="${STRATA_FUZZ_SECONDS:-60}"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"           # overridable so a developer's run does not
ASAN_BUILD="${STRATA_ASAN_BUILD_DIR:-$ROOT/build-asan}" # clash with another one on the machine
failed=()
passed=()

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

finish() {
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
    step ctest ctest --test-dir "$BUILD" -j2 --output-on-failure --timeout 600
fi

if step build-asan build "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=Debug -DSTRATA_SANITIZE=ON; then
    step ctest-asan-unit env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp" \
        ctest --test-dir "$ASAN_BUILD" -L unit -j2 --output-on-failure --timeout 600
    # The real-client and bad-input drivers once more against the sanitized broker: each
    # broker must exit 0 on SIGTERM with no sanitizer report in its log.
    step ctest-asan-integration env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir "$ASAN_BUILD" -R '^integration_' -j2 --output-on-failure --timeout 900
fi

step fuzz "$ROOT/scripts/fuzz.sh" "$FUZZ_SECONDS"

finish

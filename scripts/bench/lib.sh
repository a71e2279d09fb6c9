# lib.sh: what the single-broker benchmark scripts share (sourced by broker.sh, groups.sh and
# cold-read.sh, not run): building Release targets, a free loopback port, and waiting until a
# broker answers. Expects ROOT (the repository) to be set by the caller.

# bench_build BUILD_DIR TARGET...: installs what is missing and builds the targets (Release).
bench_build() {
    local build="$1"
    shift
    "$ROOT/scripts/install-deps.sh"
    cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target "$@"
}

# bench_free_port: prints a free TCP port on 127.0.0.1.
bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_wait_broker BOOTSTRAP PID LOG: polls (up to 30 s) until the broker answers a Metadata
# request; if its process exits first, prints its log and exits 1.
bench_wait_broker() {
    local _
    for _ in $(seq 1 300); do
        if kcat -L -b "$1" -m 1 >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$2" 2>/dev/null; then
            echo "$(basename "$0"): broker exited; log:" >&2
            cat "$3" >&2
            exit 1
        fi
        sleep 0.1 # poll interval, bounded by the 300 tries
    done
}

#!/usr/bin/env bash
# Issue-7 benchmark: builds Release (in $BUILD, default build/), starts a standalone broker on a
# free loopback port with a throw-away data directory and measures, in the same run:
#   1. idempotent vs non-idempotent produce (librdkafka through build/strata-idemprod),
#   2. consumer-group consume (subscribe) vs plain assign() consume,
#   3. the time a 3-member kcat -G group needs to rebalance after a member leaves (LeaveGroup)
#      and after one is killed -9 (bounded by session.timeout.ms, here 6000 ms).
# Prints a Markdown table (docs/performance.md, section "Consumer groups and idempotence").
#
#   scripts/bench/groups.sh [RECORDS] [ROUNDS]        defaults 1000000 and 3
#
# Not a test: nothing here asserts a duration.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
RECORDS="${1:-1000000}"
ROUNDS="${2:-3}"
source "$ROOT/scripts/bench/lib.sh"

if [[ -z "${NO_BUILD:-}" ]]; then
    bench_build "$BUILD" strata-broker strata strata-idemprod
fi

DATA="$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-groups.XXXXXX")"
PORT="$(bench_free_port)"
BS="127.0.0.1:$PORT"
BROKER_PID=""
MEMBERS=()
cleanup() {
    for m in "${MEMBERS[@]}"; do kill -9 "$m" 2>/dev/null || true; done
    if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID"
        wait "$BROKER_PID" || true
    fi
    rm -rf "$DATA"
}
trap cleanup EXIT

"$BUILD/strata-broker" "$ROOT/config/server.properties" \
    --override broker.id=0 \
    --override "listeners=PLAINTEXT://$BS" \
    --override "advertised.listeners=PLAINTEXT://$BS" \
    --override group.initial.rebalance.delay.ms=0 \
    --override "log.dirs=$DATA/data" >"$DATA/broker.log" 2>&1 &
BROKER_PID=$!
bench_wait_broker "$BS" "$BROKER_PID" "$DATA/broker.log"
echo "groups.sh: $(uname -m), $(nproc) cores; broker on $BS; $RECORDS records x $ROUNDS rounds" >&2

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
best() { sort -n | tail -1; }

# 1. idempotent vs plain produce: alternate, best of ROUNDS each, fresh 1-partition topics
idem=(); plain=()
for r in $(seq 1 "$ROUNDS"); do
    "$BUILD/strata" topics --bootstrap-server "$BS" --create --topic "pi$r" --partitions 1 >/dev/null
    "$BUILD/strata" topics --bootstrap-server "$BS" --create --topic "pp$r" --partitions 1 >/dev/null
    idem+=("$("$BUILD/strata-idemprod" "$BS" "pi$r" "$RECORDS" | field records_per_s)")
    plain+=("$("$BUILD/strata-idemprod" "$BS" "pp$r" "$RECORDS" --no-idempotence | field records_per_s)")
done
IDEM="$(printf '%s\n' "${idem[@]}" | best)"
PLAIN="$(printf '%s\n' "${plain[@]}" | best)"

# 2. group consume vs assign consume of the same topic (6 partitions)
"$BUILD/strata" topics --bootstrap-server "$BS" --create --topic gc6 --partitions 6 >/dev/null
"$BUILD/strata-idemprod" "$BS" gc6 "$RECORDS" >/dev/null
grp=(); asg=()
for r in $(seq 1 "$ROUNDS"); do
    grp+=("$("$BUILD/strata-idemprod" "$BS" gc6 "$RECORDS" --consume group --group "bench-$r" | field records_per_s)")
    asg+=("$("$BUILD/strata-idemprod" "$BS" gc6 "$RECORDS" --consume assign --group "bench-a$r" | field records_per_s)")
done
GRP="$(printf '%s\n' "${grp[@]}" | best)"
ASG="$(printf '%s\n' "${asg[@]}" | best)"

# 3. rebalance of a 3-member group after a member leaves / is killed
members_of() { # distinct consumer ids owning the 6 partitions, or nothing when not all owned
    "$BUILD/strata" consumer-groups --bootstrap-server "$BS" --describe --group rb 2>/dev/null |
        awk '$1=="rb" && $2=="gc6" {n++; if ($7=="-") miss=1; ids[$7]=1}
             END {if (n==6 && !miss) print length(ids)}'
}
wait_members() { # $1 = wanted count; prints ms waited
    local start now
    start=$(date +%s%3N)
    for _ in $(seq 1 1200); do
        [[ "$(members_of)" == "$1" ]] && break
        sleep 0.05
    done
    now=$(date +%s%3N)
    echo $((now - start))
}
start_member() {
    kcat -b "$BS" -G rb gc6 -q -o end -X session.timeout.ms=6000 -X heartbeat.interval.ms=1000 \
        >/dev/null 2>&1 &
    MEMBERS+=("$!")
    disown "$!"
}
start_member; start_member; start_member
wait_members 3 >/dev/null
kill -TERM "${MEMBERS[0]}"
LEAVE_MS="$(wait_members 2)"
start_member
wait_members 3 >/dev/null
kill -9 "${MEMBERS[1]}"
KILL_MS="$(wait_members 2)"

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
cat <<TABLE
| measurement | Strata | reference | ratio |
| --- | --- | --- | --- |
| produce, idempotent vs plain (records/s, ${RECORDS} records of <= 7 B, acks=all) | $IDEM | $PLAIN | $(ratio "$IDEM" "$PLAIN") |
| consume, group member vs assign() (records/s, 6 partitions) | $GRP | $ASG | $(ratio "$GRP" "$ASG") |
| 3-member group: rebalance after a member leaves (ms, heartbeat.interval.ms=1000) | $LEAVE_MS | | |
| 3-member group: rebalance after a member is killed -9 (ms, session.timeout.ms=6000) | $KILL_MS | | |
TABLE

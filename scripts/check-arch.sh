#!/bin/sh
# Checks the module layering of DESIGN.md: a module may include only the public
# headers of the modules below it, and proto/ and storage/ never include uv.h.
# Exits non-zero naming each violating file.
set -eu
cd "$(dirname "$0")/.."

# module -> modules it may use (itself included)
allowed() {
    case "$1" in
    util) echo "util" ;;
    proto) echo "proto util" ;;
    storage) echo "storage util" ;;
    cluster) echo "cluster proto util" ;;
    replica) echo "replica cluster storage proto util" ;;
    group) echo "group replica cluster storage proto util" ;;
    api) echo "api group replica cluster storage proto util" ;;
    server) echo "server api group replica cluster storage proto util" ;;
    cli) echo "cli cluster proto util" ;; # cluster: topics --zookeeper (DESIGN.md)
    tools) echo "server api group replica cluster storage proto util" ;;
    esac
}

# public header -> owning module
owner() {
    case "$1" in
    proto_gen) echo proto ;;
    producer_state) echo replica ;;
    *) echo "$1" ;;
    esac
}

status=0
for dir in src/*/; do
    module=$(basename "$dir")
    ok=$(allowed "$module")
    for file in $(find "$dir" -name '*.[ch]'); do
        for header in $(sed -n 's/^#include "strata\/\([a-z_]*\)\.h".*/\1/p' "$file"); do
            mod=$(owner "$header")
            case " $ok " in
            *" $mod "*) ;;
            *)
                echo "check-arch: $file ($module) includes strata/$header.h ($mod): not allowed"
                status=1
                ;;
            esac
        done
        case "$module" in
        proto | storage)
            if grep -q '#include <uv.h>' "$file"; then
                echo "check-arch: $file includes uv.h ($module must not)"
                status=1
            fi
            ;;
        esac
    done
done
exit $status

#!/bin/sh
# format.sh: formats every *.c/*.h under src/ include/ tests/ with clang-format
# (config in .clang-format). With --check, changes nothing and exits 1 listing the
# files that are not formatted.
set -eu
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
files=$(find src include tests -type f \( -name '*.c' -o -name '*.h' \) \
        -not -path '*/node_modules/*' | sort)
[ -n "$files" ] || exit 0
if [ "${1:-}" = "--check" ]; then
    bad=""
    for f in $files; do
        if ! "$CLANG_FORMAT" --dry-run -Werror "$f" >/dev/null 2>&1; then
            bad="$bad $f"
        fi
    done
    if [ -n "$bad" ]; then
        echo "not formatted (run scripts/format.sh):"
        for f in $bad; do echo "  $f"; done
        exit 1
    fi
    exit 0
elif [ $# -gt 0 ]; then
    echo "usage: scripts/format.sh [--check]" >&2
    exit 2
fi
# shellcheck disable=SC2086
"$CLANG_FORMAT" -i $files

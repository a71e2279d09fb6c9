#!/usr/bin/env bash
# Installs the Debian 12 packages Strata needs to build, test and benchmark, and nothing else.
# Owns the package list. Installed packages are detected with one dpkg-query call, so a warm run
# takes well under a second; `apt-get update` runs only when something is missing.
# Runs apt-get as root, or through sudo when not root.
set -euo pipefail

# Debian 12 (bookworm) package names.
PACKAGES=(
    build-essential cmake pkg-config      # toolchain
    clang clang-format libclang-rt-14-dev # fuzzer, sanitizer runtime, formatter (clang 14)
    libuv1-dev libzookeeper-mt-dev libxxhash-dev libcmocka-dev libjansson-dev # build deps
    zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev # record-batch codecs (storage)
    librdkafka-dev kcat                   # benchmark and integration-test clients
    zookeeper                             # local cluster (scripts/local-cluster.sh)
    python3                               # integration-test drivers
    nodejs npm                            # kafkajs integration tests
)

# A tool that is already on PATH from another source (e.g. NodeSource's nodejs, which bundles
# npm and conflicts with Debian's npm package; or a pyenv python3) counts as installed.
declare -A PROVIDED_BY_COMMAND=([nodejs]=node [npm]=npm [python3]=python3)

missing=()
# One dpkg-query call for all packages; unknown packages print nothing (stderr discarded).
installed="$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null |
    awk '$2 == "ii" { print $1 }')" || true
for pkg in "${PACKAGES[@]}"; do
    if grep -qx -- "$pkg" <<<"$installed"; then
        continue
    fi
    cmd="${PROVIDED_BY_COMMAND[$pkg]:-}"
    if [[ -n "$cmd" ]] && command -v "$cmd" >/dev/null 2>&1; then
        continue
    fi
    missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-deps: missing packages (${missing[*]}) and not root, no sudo" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q "${missing[@]}"

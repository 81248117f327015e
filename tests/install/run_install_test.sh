#!/usr/bin/env bash
# Install check: tests/install/run_install_test.sh BUILD_DIR
# Installs BUILD_DIR into a temporary prefix, then builds and runs
# tests/install/consumer/consumer.c against that prefix twice: as a CMake
# project (find_package(gradwire) -> gradwire::gradwire) and with
# `cc $(pkg-config --cflags --libs gradwire)`.
set -euo pipefail
cmake=${CMAKE:-cmake}
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gw-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

echo "== cmake --install into a temporary prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
for f in include/gradwire/gradwire.h include/gradwire/gw_config.h; do
  [ -f "$prefix/$f" ] || { echo "missing after install: $f"; exit 1; }
done
lib=$(find "$prefix" -name 'libgradwire.so' | head -n 1)
config=$(find "$prefix" -name 'gradwireConfig.cmake' | head -n 1)
pc=$(find "$prefix" -name 'gradwire.pc' | head -n 1)
for v in lib config pc; do
  [ -n "${!v}" ] || { echo "missing after install: $v"; exit 1; }
done

echo "== CMake consumer: find_package(gradwire)"
gen=()
if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
"$cmake" -S "$here/consumer" -B "$tmp/consumer" "${gen[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
"$cmake" --build "$tmp/consumer" >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
"$tmp/consumer/consumer"

echo "== pkg-config consumer: cc \$(pkg-config --cflags --libs gradwire)"
if ! command -v pkg-config >/dev/null 2>&1; then
  echo "pkg-config not installed: skipping the pkg-config check"
  exit 0
fi
export PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
flags=$(pkg-config --cflags --libs gradwire)
echo "pkg-config: $flags"
# shellcheck disable=SC2086  # the flags are meant to split
${CC:-cc} -std=c99 -Wall -Werror "$here/consumer/consumer.c" -o "$tmp/consumer_pc" $flags
LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/consumer_pc"
echo "install test: ok"

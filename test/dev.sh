#!/usr/bin/env bash
# The README's quick start: install what a fresh Debian 12 machine lacks,
# build, then either run the agent on its embedded default or run every test.
#   bash test/dev.sh run     build and run the agent (health on 127.0.0.1:8787)
#   bash test/dev.sh test    format check, build, every fuzz target briefly,
#                            the whole suite under ASan+UBSan, the armhf
#                            cross build under qemu, then the whole suite
set -euo pipefail

cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

build_pkgs="build-essential cmake pkg-config libevent-dev libsqlite3-dev
	libmbedtls-dev zlib1g-dev"
test_pkgs="libcmocka-dev clang clang-format libclang-rt-14-dev libfuzzer-14-dev sqlite3
	curl openssl python3 mosquitto mosquitto-clients nginx prometheus
	victoria-metrics procps iproute2 faketime chromium systemd valgrind
	ninja-build"

dev_install() {
	local missing="" p sudo=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	echo "installing:$missing"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends $missing >/dev/null
}

dev_build() {	# dir, extra cmake args...
	local dir=$1; shift
	cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j "$jobs"
}

dev_fuzz() {	# every libFuzzer target, briefly, on its seed corpus
	local secs=${OUTPOST_FUZZ_SECONDS:-30} t name corpus failed=0
	CC=clang dev_build "$top/build-fuzz" -DOUTPOST_FUZZ=ON -DOUTPOST_TESTS=OFF
	for t in "$top"/build-fuzz/test/fuzz/fuzz_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t"); name=${name#fuzz_}
		corpus=$(mktemp -d)
		cp -r "$top/test/fuzz/corpus/$name/." "$corpus/" 2>/dev/null || true
		echo "fuzz $name for ${secs}s"
		if ! "$t" -max_total_time="$secs" -print_final_stats=1 \
			-artifact_prefix="$top/build-fuzz/crash-$name-" \
			"$corpus" >"$top/build-fuzz/$name.log" 2>&1; then
			echo "fuzz $name FAILED:"; tail -30 "$top/build-fuzz/$name.log"
			failed=1
		else
			grep -E 'stat::number_of_executed_units' \
				"$top/build-fuzz/$name.log" || true
		fi
		rm -rf "$corpus"
	done
	return $failed
}

case "${1:-}" in
run)
	dev_install $build_pkgs
	dev_build "$top/build" -DOUTPOST_TESTS=OFF
	exec "$top/build/outpost"
	;;
test)
	dev_install $build_pkgs $test_pkgs
	echo "format: clang-format --dry-run on every C file"
	git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror
	dev_build "$top/build" -DOUTPOST_WERROR=ON
	dev_fuzz
	echo "sanitizers: the whole suite under ASan+UBSan"
	dev_build "$top/build-asan" -DOUTPOST_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir "$top/build-asan" --output-on-failure -j "$jobs"
	echo "valgrind: memcheck on the core scenarios"
	bash "$top/test/valgrind.sh" "$top/build-valgrind" quick
	echo "cross: armhf (32-bit ARMv7, mbedtls 2.28) under qemu"
	bash "$top/cross/test.sh" armhf
	echo "cross: aarch64 (mbedtls 3.6 from Debian 13) under qemu"
	bash "$top/cross/test.sh" aarch64
	# Last, so its summary is the closing line CI reads.
	ctest --test-dir "$top/build" --output-on-failure -j "$jobs"
	;;
*)
	echo "usage: bash test/dev.sh run|test" >&2
	exit 2
	;;
esac

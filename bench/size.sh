#!/usr/bin/env bash
# bench/size.sh [MINUTES]: size and memory of the device build (MinSizeRel:
# -Os, LTO, section GC) for x86-64 (native), armhf and aarch64 (qemu-user,
# sysroots from cross/sysroot.sh), each next to bench/minimal_floor.c (the
# same three libraries set up and idle) measured in the same run.
#
# Prints a Markdown table: stripped binary sizes; RSS a few seconds after
# start and after MINUTES (default 10) of simulated ingest (10 sim devices
# at 10 Hz and the system adapter, cloud off), for the agent and the floor,
# and how far the agent's RSS is over the floor's (the target's measure).
#
# RSS is VmRSS and RssAnon (anonymous, private) from /proc/PID/status on
# x86-64. Under qemu the process also holds qemu itself (its code, the
# translated-code cache), so for armhf and aarch64 the figures are the
# guest's own pages only: smaps summed over the guest's address range
# (below 4 GiB for a 32-bit guest; 64 GiB from the guest binary for a
# 64-bit one), Rss and Anonymous. That is what the same mappings would hold
# on the device; qemu's whole VmRSS is shown in brackets.
#
# Run cross/test.sh ARCH once first on a fresh machine (cross compilers,
# qemu-user). OUTPOST_SIZE_ARCHS limits the architectures.
set -euo pipefail

cd "$(dirname "$0")/.."
top=$(pwd)
minutes=${1:-10}
archs=${OUTPOST_SIZE_ARCHS:-x86_64 armhf aarch64}
jobs=$(nproc 2>/dev/null || echo 2)
work=$(mktemp -d /tmp/outpost-size.XXXXXX)
pids=""

size_cleanup() {
	local p
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap size_cleanup EXIT

size_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# size_build ARCH: the MinSizeRel build of outpost and minimal_floor;
# sets BUILD, STRIP and RUN (the emulator prefix, empty when native).
size_build() {
	local arch=$1 debarch triplet qemu sysroot args=()
	case "$arch" in
	x86_64)
		BUILD=$top/build-cross-x86_64
		STRIP=strip RUN=""
		;;
	armhf | aarch64)
		if [ "$arch" = armhf ]; then
			debarch=armhf triplet=arm-linux-gnueabihf qemu=qemu-arm
		else
			debarch=arm64 triplet=aarch64-linux-gnu qemu=qemu-aarch64
		fi
		sysroot=$(bash "$top/cross/sysroot.sh" "$debarch" \
			"$top/build-cross-$arch")
		BUILD=$top/build-cross-$arch/size
		STRIP=$triplet-strip RUN="$qemu -L $sysroot"
		args=(-DCMAKE_TOOLCHAIN_FILE="$top/cross/$triplet.cmake"
			-DCROSS_SYSROOT="$sysroot")
		;;
	esac
	cmake -S "$top" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=MinSizeRel \
		-DOUTPOST_TESTS=OFF "${args[@]}" >"$work/$arch.configure" ||
		{ cat "$work/$arch.configure"; exit 1; }
	cmake --build "$BUILD" -j "$jobs" --target outpost minimal_floor \
		>"$work/$arch.build" || { tail -30 "$work/$arch.build"; exit 1; }
}

size_stripped() {	# strip FILE: stripped size in bytes
	"$1" -o "$work/stripped" "$2"
	stat -c %s "$work/stripped"
}

# size_mem PID EMULATED: "rss_kb anon_kb qemu_rss_kb" of the process.
size_mem() {
	local pid=$1 emulated=$2
	if [ -z "$emulated" ]; then
		awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 }
			END { print r, a, "-" }' "/proc/$pid/status"
		return
	fi
	awk -v qrss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")" '
	function hex(s,   i, c, v) {
		v = 0
		for (i = 1; i <= length(s); i++) {
			c = index("0123456789abcdef", substr(s, i, 1)) - 1
			v = v * 16 + c
		}
		return v
	}
	# A mapping header: "start-end perms offset dev inode [path]".
	/^[0-9a-f]+-[0-9a-f]+ / {
		split($1, r, "-")
		start = hex(r[1])
		path = $6
		n++
		starts[n] = start
		paths[n] = path
		next
	}
	/^Rss:/ { rss[n] = $2 }
	/^Anonymous:/ { anon[n] = $2 }
	END {
		# The guest binary is the first file mapping (qemu maps it
		# before anything of its own is touched by the guest).
		for (i = 1; i <= n; i++)
			if (paths[i] ~ /^\// && paths[i] !~ /qemu/ &&
			    paths[i] !~ /x86_64-linux-gnu/) {
				lo = starts[i]
				break
			}
		if (lo < 4294967296) {
			lo = 0
			hi = 4294967296
		} else
			hi = lo + 68719476736
		for (i = 1; i <= n; i++)
			if (starts[i] >= lo && starts[i] < hi) {
				tr += rss[i]
				ta += anon[i]
			}
		print tr, ta, qrss
	}' "/proc/$pid/smaps"
}

# size_config DIR PORT NDEV INTERVAL: NDEV sim devices, one reading every
# INTERVAL s each, and the system adapter every 10 s; cloud off.
size_config() {
	local d=$1 port=$2 ndev=$3 interval=$4 i
	{
		printf '[agent]\nid = "size"\ndata_dir = "%s/data"\n\n' "$d"
		printf '[logging]\nlevel = "warn"\n\n'
		printf '[health]\nlisten = "127.0.0.1:%s"\n\n' "$port"
		printf '[cloud]\nenabled = false\n\n'
		for i in $(seq 1 "$ndev"); do
			printf '[[device]]\nname = "sim%s"\ntype = "sim"\n' "$i"
			printf 'sensor = "temp.s%s"\ninterval = %s\n' "$i" "$interval"
			printf 'waveform = "random_walk"\nmin = 0\nmax = 100\n'
			printf 'seed = %s\n\n' "$i"
		done
		printf '[[device]]\nname = "system"\ntype = "system"\n'
		printf 'interval = 10\n'
	} >"$d/outpost.toml"
}

size_kib() {	# strip FILE: "N bytes (K KiB)" once stripped
	local n
	n=$(size_stripped "$1" "$2")
	printf '%s B (%s KiB)' "$n" "$(awk -v n="$n" 'BEGIN { printf "%.0f", n / 1024 }')"
}

kb() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }'; }

declare -A run build strip pid port mem0 mem1 stored
for arch in $archs; do
	echo "build $arch" >&2
	size_build "$arch"
	build[$arch]=$BUILD strip[$arch]=$STRIP run[$arch]=$RUN
done

# Per architecture: the floor, the agent idle (one sim device at 1 Hz and
# the system adapter, like the reference config) and the agent ingesting
# (10 sim devices at 10 Hz: 100 readings/s).
procs="floor idle ingest"
for arch in $archs; do
	for p in $procs; do
		k=$arch.$p
		mkdir -p "$work/$k"
		if [ "$p" = floor ]; then
			# shellcheck disable=SC2086 # RUN is a command prefix
			${run[$arch]} "${build[$arch]}/minimal_floor" "$work/$k" \
				>"$work/$k/log" 2>&1 &
		else
			port[$k]=$(size_free_port)
			if [ "$p" = idle ]; then
				size_config "$work/$k" "${port[$k]}" 1 1.0
			else
				size_config "$work/$k" "${port[$k]}" 10 0.1
			fi
			# shellcheck disable=SC2086
			${run[$arch]} "${build[$arch]}/outpost" \
				-c "$work/$k/outpost.toml" >"$work/$k/log" 2>&1 &
		fi
		pid[$k]=$!
		pids="$pids $!"
	done
done
for arch in $archs; do
	for p in $procs; do
		k=$arch.$p
		deadline=$(($(date +%s) + 60))
		while :; do
			if [ "$p" = floor ]; then
				grep -q ready "$work/$k/log" && break
			else
				curl -sf -o /dev/null \
					"http://127.0.0.1:${port[$k]}/health/live" && break
			fi
			if [ "$(date +%s)" -ge "$deadline" ]; then
				echo "$k did not start:" >&2
				tail "$work/$k/log" >&2
				exit 1
			fi
			sleep 0.2
		done
	done
done
sleep 5
for arch in $archs; do
	for p in $procs; do
		mem0[$arch.$p]=$(size_mem "${pid[$arch.$p]}" "${run[$arch]}")
	done
done
echo "running for $minutes min" >&2
sleep $((minutes * 60))
for arch in $archs; do
	for p in $procs; do
		k=$arch.$p
		mem1[$k]=$(size_mem "${pid[$k]}" "${run[$arch]}")
		[ "$p" = floor ] && continue
		stored[$k]=$(curl -sf "http://127.0.0.1:${port[$k]}/health" |
			python3 -c 'import json, sys
print(json.load(sys.stdin)["readings_processed"])')
	done
done
for arch in $archs; do
	for p in $procs; do
		k=$arch.$p
		kill -TERM "${pid[$k]}"
		if ! wait "${pid[$k]}"; then
			echo "$k: exit code $? after SIGTERM" >&2
			exit 1
		fi
	done
done
pids=""

fmt() {	# "rss anon qemu" -> "R / A"
	local r a q
	read -r r a q <<<"$1"
	printf '%s / %s' "$(kb "$r")" "$(kb "$a")"
}
over() {	# "rss anon qemu" of the agent and of the floor -> "+D"
	local r a q fr
	read -r r a q <<<"$1"
	read -r fr a q <<<"$2"
	printf '+%s' "$(kb $((r - fr)))"
}
qemu_of() {
	local r a q
	read -r r a q <<<"$1"
	[ "$q" = - ] && q="" || q="$(kb "$q")"
	printf '%s' "${q:--}"
}

echo "| arch | outpost, stripped | minimal_floor, stripped |"
echo "|---|---|---|"
for arch in $archs; do
	printf '| %s | %s | %s |\n' "$arch" \
		"$(size_kib "${strip[$arch]}" "${build[$arch]}/outpost")" \
		"$(size_kib "${strip[$arch]}" "${build[$arch]}/minimal_floor")"
done
echo
printf '| arch | process | RSS / anon MiB, 5 s after start | after %s min | RSS over the floor MiB (start, end) | readings stored | qemu VmRSS MiB (start, end) |\n' "$minutes"
echo "|---|---|---|---|---|---|---|"
for arch in $archs; do
	for p in $procs; do
		k=$arch.$p
		d="-"
		if [ "$p" != floor ]; then
			d="$(over "${mem0[$k]}" "${mem0[$arch.floor]}")"
			d="$d, $(over "${mem1[$k]}" "${mem1[$arch.floor]}")"
		fi
		printf '| %s | %s | %s | %s | %s | %s | %s, %s |\n' "$arch" \
			"$p" "$(fmt "${mem0[$k]}")" "$(fmt "${mem1[$k]}")" \
			"$d" "${stored[$k]:--}" "$(qemu_of "${mem0[$k]}")" \
			"$(qemu_of "${mem1[$k]}")"
	done
done

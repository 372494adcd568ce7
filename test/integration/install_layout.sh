#!/usr/bin/env bash
# `cmake --install` into a DESTDIR lays out what a device needs: the binary
# (hardened: PIE, full RELRO, stack protector; no build-tree RUNPATH), the
# reference config under sysconfdir (/etc for prefix /usr) storing data in
# /var/lib/outpost, the systemd unit naming those paths and passing
# `systemd-analyze verify`, and the SysV init script. The installed binary
# accepts the installed config.
. "$(dirname "$0")/lib.sh"
lib_init

: "${OUTPOST_BUILDDIR:?run through ctest (OUTPOST_BUILDDIR unset)}"
cache_get() {
	sed -n "s/^$1:[A-Z]*=//p" "$OUTPOST_BUILDDIR/CMakeCache.txt"
}
prefix=$(cache_get CMAKE_INSTALL_PREFIX)
[ -n "$prefix" ] || fail "no CMAKE_INSTALL_PREFIX in the cache"
# GNUInstallDirs: prefix /usr puts configuration in /etc.
if [ "$prefix" = /usr ]; then etc=/etc; else etc=$prefix/etc; fi

root=$T/root
DESTDIR=$root cmake --install "$OUTPOST_BUILDDIR" >"$T/install.log" 2>&1 ||
	fail "cmake --install: $(tail -5 "$T/install.log")"

bin=$root$prefix/bin/outpost
conf=$root$etc/outpost/outpost.toml
unit=$root$prefix/lib/systemd/system/outpost.service
initscript=$root$prefix/share/outpost/S90outpost
[ -x "$bin" ] || fail "no executable $prefix/bin/outpost"
[ -f "$conf" ] || fail "no $etc/outpost/outpost.toml"
[ -f "$unit" ] || fail "no $prefix/lib/systemd/system/outpost.service"
[ -x "$initscript" ] || fail "no executable $prefix/share/outpost/S90outpost"
[ "$(stat -c %a "$conf")" = 644 ] || fail "config mode $(stat -c %a "$conf")"
[ "$(stat -c %a "$unit")" = 644 ] || fail "unit mode $(stat -c %a "$unit")"
cmp -s "$conf" "$OUTPOST_SRCDIR/conf/outpost.toml" ||
	fail "installed config differs from conf/outpost.toml"
# Nothing but these files (and directories) is installed.
n=$(find "$root" -type f | wc -l)
[ "$n" = 4 ] || fail "$n files installed, want 4: $(find "$root" -type f)"

# The config stores data where the unit's StateDirectory= puts it.
grep -Eq '^data_dir = "/var/lib/outpost"' "$conf" ||
	fail "installed config's data_dir is not /var/lib/outpost"
$OUTPOST_WRAPPER "$bin" -c "$conf" --check >"$T/check" 2>&1 ||
	fail "installed binary rejects the installed config: $(cat "$T/check")"
$OUTPOST_WRAPPER "$bin" -c "$conf" --print-config >"$T/printed" 2>&1 ||
	fail "--print-config: $(cat "$T/printed")"
grep -q '/var/lib/outpost' "$T/printed" || fail "data_dir not in effect"

# The unit runs the installed binary on the installed config, as a
# sandboxed service that is restarted and keeps its state directory.
grep -qx "ExecStart=$prefix/bin/outpost -c $etc/outpost/outpost.toml" "$unit" ||
	fail "ExecStart: $(grep ExecStart= "$unit")"
for kv in Restart=always DynamicUser=yes StateDirectory=outpost \
	ProtectSystem=strict ProtectHome=yes NoNewPrivileges=yes \
	PrivateTmp=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
	'CapabilityBoundingSet='; do
	grep -qx "$kv" "$unit" || fail "unit lacks $kv"
done
command -v systemd-analyze >/dev/null ||
	fail "systemd-analyze not found (apt-get install systemd)"
# verify checks that ExecStart= exists: point it at the DESTDIR copy.
sed "s#^ExecStart=$prefix/bin/outpost#ExecStart=$bin#" "$unit" \
	>"$T/outpost.service"
systemd-analyze verify "$T/outpost.service" >"$T/verify" 2>&1 ||
	fail "systemd-analyze verify: $(cat "$T/verify")"
[ -s "$T/verify" ] && fail "systemd-analyze verify warns: $(cat "$T/verify")"

# The SysV script is valid sh and follows the DAEMON/PIDFILE convention.
sh -n "$initscript" || fail "S90outpost is not valid sh"
grep -qx 'DAEMON="outpost"' "$initscript" || fail "S90outpost: DAEMON"
# shellcheck disable=SC2016 # the script's literal text
grep -qx 'PIDFILE="/var/run/$DAEMON.pid"' "$initscript" ||
	fail "S90outpost: PIDFILE"

# Hardened and relocatable: PIE, BIND_NOW, GNU_RELRO, stack protector, no
# RUNPATH into the build tree.
if [ "$(cache_get OUTPOST_HARDEN)" = ON ]; then
	readelf -hW "$bin" | grep -q 'Type: *DYN' || fail "binary is not PIE"
	readelf -dW "$bin" | grep -Eq 'BIND_NOW|FLAGS.*NOW' ||
		fail "binary lacks BIND_NOW"
	readelf -lW "$bin" | grep -q GNU_RELRO || fail "binary lacks GNU_RELRO"
	readelf -sW --dyn-syms "$bin" | grep -q __stack_chk_fail ||
		fail "binary lacks the stack protector"
fi
readelf -dW "$bin" | grep -E 'RPATH|RUNPATH' && fail "installed binary has a RUNPATH"
echo "ok: $prefix layout, unit verified"

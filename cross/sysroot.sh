#!/usr/bin/env bash
# cross/sysroot.sh ARCH OUTDIR: a target sysroot unpacked from Debian .debs.
#   ARCH    armhf (from bookworm: mbedtls 2.28, libevent 2.1.12) or
#           arm64 (from trixie: mbedtls 3.6, libevent 2.1.13, as Buildroot
#           ships), so both mbedtls generations are built on every run.
#   OUTDIR  gets apt/ (a private apt state) and sysroot/; prints the sysroot.
#
# Multiarch on the host is fragile (libevent-dev is not co-installable, a
# foreign security index can lag behind), so nothing here touches the host's
# dpkg state or sources: apt runs with its own lists, cache and an empty
# status file, for the target architecture only, downloads the packages and
# their dependencies, and dpkg-deb -x unpacks them. Absolute symlinks are
# made relative so they resolve inside the sysroot.
#
# The mirror is the one the host's apt uses for Debian (override with
# OUTPOST_DEBIAN_MIRROR); the archive keyring checks the Release files.
set -euo pipefail

usage() {
	echo "usage: $0 armhf|arm64 OUTDIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
arch=$1
out=$2
case "$arch" in
armhf) suite=bookworm ;;
arm64) suite=trixie ;;
*) usage ;;
esac

pkgs=(libc6-dev libevent-dev libsqlite3-dev libmbedtls-dev zlib1g-dev
	libcmocka-dev)
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mirror=${OUTPOST_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
	# The host's sources as configured (no downloaded lists needed).
	codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
	# shellcheck disable=SC2016 # an apt format string, not an expansion
	mirror=$(apt-get indextargets --no-release-info \
		--format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 2>/dev/null |
		awk -v c="$codename" '$2 == c && $3 == "deb" { print $1; exit }')
fi
[ -n "$mirror" ] || {
	echo "sysroot: no Debian mirror in the host's apt sources;" \
		"set OUTPOST_DEBIAN_MIRROR" >&2
	exit 1
}
[ -r "$keyring" ] || {
	echo "sysroot: $keyring missing (apt-get install debian-archive-keyring)" >&2
	exit 1
}

mkdir -p "$out"
out=$(cd "$out" && pwd)
aptdir=$out/apt
sysroot=$out/sysroot
stamp="$arch $suite $mirror ${pkgs[*]}"

# Already built for the same request: nothing to do.
if [ -f "$sysroot/.outpost-sysroot" ] &&
	[ "$(cat "$sysroot/.outpost-sysroot")" = "$stamp" ]; then
	echo "$sysroot"
	exit 0
fi

rm -rf "$aptdir" "$sysroot"
mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" \
	"$aptdir/etc/preferences.d" "$aptdir/etc/apt.conf.d" "$sysroot"
: >"$aptdir/status"
echo "deb [signed-by=$keyring] $mirror $suite main" >"$aptdir/etc/sources.list"

aptopts=(
	-o "APT::Architecture=$arch"
	-o "APT::Architectures::=$arch"
	-o "Dir::Etc=$aptdir/etc"
	-o "Dir::Etc::sourcelist=$aptdir/etc/sources.list"
	-o "Dir::Etc::sourceparts=-"
	-o "Dir::State=$aptdir"
	-o "Dir::State::lists=$aptdir/lists"
	-o "Dir::State::status=$aptdir/status"
	-o "Dir::Cache=$aptdir"
	-o "Dir::Cache::archives=$aptdir/archives"
	-o "Debug::NoLocking=1"
	-o "APT::Install-Recommends=0"
	-o "APT::Get::Download-Only=1"
	-o "APT::Sandbox::User=root"
)
apt-get "${aptopts[@]}" -qq update
apt-get "${aptopts[@]}" -qq -y install "${pkgs[@]}" >"$aptdir/install.log"

for deb in "$aptdir"/archives/*.deb; do
	dpkg-deb -x "$deb" "$sysroot"
done

# Absolute links (libm.so -> /lib/...) would point into the host.
while IFS= read -r -d '' link; do
	target=$(readlink "$link")
	case "$target" in
	/*)
		ln -sfn "$(realpath -ms --relative-to="$(dirname "$link")" \
			"$sysroot$target")" "$link"
		;;
	esac
done < <(find "$sysroot" -type l -print0)

# Packages from trixie ship /usr only (merged /usr; base-files would add the
# /lib link), while binaries ask for /lib/ld-linux-*.so: link it.
for d in lib bin sbin; do
	if [ ! -e "$sysroot/$d" ] && [ -d "$sysroot/usr/$d" ]; then
		ln -s "usr/$d" "$sysroot/$d"
	fi
done

echo "$stamp" >"$sysroot/.outpost-sysroot"
echo "$sysroot"

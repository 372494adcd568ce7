#!/usr/bin/env bash
# cross/release.sh VERSION [OUTDIR]: the release tarball of tag vVERSION
# for the Buildroot package, and the package pointed at it.
#
# Writes OUTDIR/outpost-VERSION.tar.gz (git archive of the tag, gzip -n:
# the same bytes on every run), sets OUTPOST_VERSION in outpost.mk and
# rewrites outpost.hash with the tarball's sha256 and, when the tag has
# one, the LICENSE file's. Upload the tarball to the release site set in
# BR2_PACKAGE_OUTPOST_RELEASE_SITE and commit the two package files.
set -euo pipefail

[ $# -ge 1 ] || {
	echo "usage: $0 VERSION [OUTDIR]" >&2
	exit 2
}
v=$1
out=${2:-.}
cd "$(dirname "$0")/.."
pkg=cross/buildroot/package/outpost
tag=v$v

git rev-parse -q --verify "refs/tags/$tag^{commit}" >/dev/null || {
	echo "release: no tag $tag" >&2
	exit 1
}
git show "$tag:CMakeLists.txt" | grep -q "^project(outpost VERSION $v " || {
	echo "release: CMakeLists.txt at $tag does not say VERSION $v" >&2
	exit 1
}

mkdir -p "$out"
tarball=$out/outpost-$v.tar.gz
git archive --format=tar --prefix="outpost-$v/" "$tag" | gzip -n -9 >"$tarball"

{
	echo "# Locally computed by cross/release.sh"
	echo "sha256  $(sha256sum <"$tarball" | cut -d' ' -f1)  outpost-$v.tar.gz"
	if git cat-file -e "$tag:LICENSE" 2>/dev/null; then
		echo "sha256  $(git show "$tag:LICENSE" | sha256sum |
			cut -d' ' -f1)  LICENSE"
	fi
} >"$pkg/outpost.hash"
sed -i "s/^OUTPOST_VERSION = .*/OUTPOST_VERSION = $v/" "$pkg/outpost.mk"
echo "$tarball"

#!/bin/sh
# Checks that third_party/go-sdk is exactly the go-sdk release that go.mod requires, cut down to
# the packages agentbridge builds, with third_party/go-sdk.patch applied and nothing else
# changed (see third_party/go-sdk/PATCHES.md).
set -eu
cd "$(dirname "$0")/.."
mod=github.com/modelcontextprotocol/go-sdk
version=$(go list -m -f '{{.Version}}' "$mod")
upstream=$(go mod download -json "$mod@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$upstream" ] || { echo "check-go-sdk: cannot download $mod@$version"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The release's copy of every file the cut-down tree has (a file the patch adds is not there).
(cd third_party/go-sdk && find . -type f ! -name PATCHES.md) | while read -r f; do
	if [ -f "$upstream/$f" ]; then
		mkdir -p "$tmp/$(dirname "$f")"
		cp "$upstream/$f" "$tmp/$f"
	fi
done
chmod -R u+w "$tmp"
(cd "$tmp" && git apply -p1 "$OLDPWD/third_party/go-sdk.patch")
if ! diff -r -x PATCHES.md "$tmp" third_party/go-sdk; then
	echo "check-go-sdk: third_party/go-sdk is not $mod@$version with third_party/go-sdk.patch applied"
	exit 1
fi
echo "third_party/go-sdk is $mod@$version with third_party/go-sdk.patch applied"

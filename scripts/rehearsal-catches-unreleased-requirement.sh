#!/usr/bin/env bash
# Shows that the publish rehearsal can fail: in a copy of the working tree
# whose nested modules require the root at the zero pseudo-version (as they
# did before v0.1.0), the rehearsal of the next version must fail, as
# `go get` of redisstore failed for users.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
copy=$(mktemp -d)
trap 'chmod -R u+w "$copy" 2>/dev/null; rm -rf "$copy"' EXIT
(cd "$repo" && git ls-files -z | tar --null -T - -cf -) | tar -x -C "$copy"
cd "$copy"
git init -q && git add -A
version=$(repo=$copy && source scripts/lib.sh && candidate_version)
for dir in redisstore bench examples/replicas; do
  (cd "$dir" && go mod edit -require=github.com/tarilabs/userauth@v0.0.0-00010101000000-000000000000)
done
if bash scripts/rehearse-release.sh "$version" >"$copy/out.txt" 2>&1; then
  cat "$copy/out.txt"
  echo "the rehearsal passed a redisstore that requires an unreleased root" >&2
  exit 1
fi
grep -m1 'userauth@v0.0.0-00010101000000-000000000000' "$copy/out.txt" ||
  { cat "$copy/out.txt"; echo "the rehearsal failed, but not for the missing version" >&2; exit 1; }
echo "ok: the rehearsal refuses a nested module that requires an unreleased root"

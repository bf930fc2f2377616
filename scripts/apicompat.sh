#!/usr/bin/env bash
# Checks that the exported API of each published module did not change
# incompatibly since the last release tag, with golang.org/x/exp's apidiff.
# While no tag exists there is nothing to compare with: it says so and passes.
#
# We are at v0 (RELEASING.md): an incompatible change is allowed in a minor
# release, but never by accident. It passes only when CHANGELOG.md's
# Unreleased section has a "### Breaking" heading that declares it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"
exp_version=v0.0.0-20261113113407-e3970619a1a4 # golang.org/x/exp
cd "$repo"

base=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true)
if [ -z "$base" ]; then
  echo "api compatibility: skipped: no release tag yet; the first release sets the baseline"
  exit 0
fi
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/base" "$base"
apidiff() { go run "golang.org/x/exp/cmd/apidiff@$exp_version" "$@"; }

incompatible=0
for dir in $(published_modules); do
  path=$(module_path "$dir")
  if [ ! -f "$work/base/$dir/go.mod" ]; then
    echo "== $path: new since $base"
    continue
  fi
  echo "== $path: $base → HEAD"
  (cd "$work/base/$dir" && apidiff -m -w "$work/old" "$path")
  (cd "$repo/$dir" && apidiff -m -w "$work/new" "$path")
  apidiff -m -incompatible "$work/old" "$work/new" | tee "$work/report"
  if [ -s "$work/report" ]; then incompatible=1; else echo "compatible"; fi
done
if [ "$incompatible" = 1 ]; then
  if sed -n '/^## \[Unreleased\]/,/^## \[v/p' CHANGELOG.md | grep -q '^### Breaking'; then
    echo "api compatibility: incompatible changes, declared under ### Breaking in CHANGELOG.md"
  else
    echo "api compatibility: incompatible changes since $base; declare them under ### Breaking in CHANGELOG.md's Unreleased section, or undo them" >&2
    exit 1
  fi
fi

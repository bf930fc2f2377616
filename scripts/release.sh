#!/usr/bin/env bash
# Releases every published module (scripts/published-modules) at one version.
# RELEASING.md says when and why; this is how:
#
#   scripts/release.sh [--dry-run] VERSION      (VERSION such as v0.1.0)
#
# 1. checks VERSION, that the tree is clean, that no tag of VERSION exists,
#    and that CI is green (runs .ci/run; SKIP_CI=1 when it just passed here);
# 2. sets every go.mod's requirement on a published module, and go.work's
#    replacements, to VERSION, and dates CHANGELOG.md's Unreleased section;
# 3. commits that as "Release VERSION", rehearses the release from that
#    commit (scripts/rehearse-release.sh), and tags it: VERSION for the root,
#    DIR/VERSION for each nested module, as the go command expects.
# Nothing is pushed: the last line says what to push.
# --dry-run prints each command that would change something, and runs none.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"
cd "$repo"

dry=
if [ "${1:-}" = --dry-run ]; then dry=1; shift; fi
version=${1:-}
if [ $# -ne 1 ]; then
  echo "usage: scripts/release.sh [--dry-run] VERSION" >&2
  exit 2
fi
# A release tag: vMAJOR.MINOR.PATCH with an optional pre-release, no build
# metadata, no leading zeros (what the go command accepts as canonical).
n='(0|[1-9][0-9]*)'
if ! [[ $version =~ ^v$n\.$n\.$n(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$ ]]; then
  echo "release: $version is not a version such as v0.1.0 or v0.2.0-rc.1" >&2
  exit 2
fi

# run prints a command that changes something; it runs it unless --dry-run.
run() {
  echo "+ $*"
  if [ -z "$dry" ]; then "$@"; fi
}

tags=()
for dir in $(published_modules); do
  if [ "$dir" = . ]; then tags+=("$version"); else tags+=("$dir/$version"); fi
done
for tag in "${tags[@]}"; do
  if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
    echo "release: tag $tag exists already" >&2
    exit 1
  fi
done
if [ -n "$(git status --porcelain)" ]; then
  echo "release: the tree has changes; commit or stash them first:" >&2
  git status --short >&2
  [ -n "$dry" ] || exit 1
  echo "# (--dry-run goes on)"
fi

if [ -n "$dry" ] || [ -n "${SKIP_CI:-}" ]; then
  echo "# would run: bash .ci/run (skipped: ${dry:+--dry-run}${SKIP_CI:+SKIP_CI})"
else
  echo "== CI (bash .ci/run)"
  bash .ci/run
fi

echo "== requirements on the published modules set to $version"
published_paths=()
for dir in $(published_modules); do published_paths+=("$(module_path "$dir")"); done
for gomod in $(git ls-files '*go.mod'); do
  dir=$(dirname "$gomod")
  [ "$dir" = . ] && continue
  for path in "${published_paths[@]}"; do
    have=$(awk -v m="$path" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$gomod")
    if [ -n "$have" ] && [ "$have" != "$version" ]; then
      run go mod edit -require="$path@$version" "$gomod"
    fi
  done
done
# go.work replaces each published module at the version the others require,
# so that the workspace builds while that version is not yet served.
for path in "${published_paths[@]}"; do
  replaced=
  for old in $(awk -v m="$path" '$1 == "replace" && $2 == m && $3 != "=>" { print $3 } $1 == m && $2 != "=>" { print $2 }' go.work); do
    if [ "$old" = "$version" ]; then replaced=1; else run go work edit -dropreplace="$path@$old"; fi
  done
  [ -n "$replaced" ] && continue
  for dir in $(published_modules); do
    if [ "$(module_path "$dir")" = "$path" ]; then
      if [ "$dir" = . ]; then dir=./; else dir=./$dir; fi
      run go work edit -replace="$path@$version=$dir"
    fi
  done
done

echo "== CHANGELOG.md: Unreleased becomes $version"
today=$(date -u +%Y-%m-%d)
if [ -z "$dry" ]; then
  sed -i "s/^## \[Unreleased\]$/## [Unreleased]\n\n## [$version] - $today/" CHANGELOG.md
else
  echo "+ add '## [$version] - $today' under '## [Unreleased]' in CHANGELOG.md"
fi

echo "== commit, rehearse, tag"
run git commit -q -am "Release $version"
if [ -z "$dry" ]; then
  bash scripts/rehearse-release.sh "$version"
else
  echo "# would run: scripts/rehearse-release.sh $version"
fi
for tag in "${tags[@]}"; do
  run git tag -a "$tag" -m "userauth $version"
done
echo "# to publish: git push origin HEAD ${tags[*]}"

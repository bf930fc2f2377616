#!/usr/bin/env bash
# Releases every published module (scripts/published-modules) at one version.
# RELEASING.md says when and why; this is how:
#
#   scripts/release.sh [--dry-run] VERSION      (VERSION such as v0.1.0)
#
# 1. checks VERSION (tools/versioncheck: canonical, not a pseudo-version's
#    shape, allowed by the module paths, after the latest tag, a new minor
#    version when CHANGELOG.md declares a breaking change), that the tree is
#    a clean main with an Unreleased section, that no tag of VERSION exists,
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
if [ $# -ne 1 ]; then
  echo "usage: scripts/release.sh [--dry-run] VERSION" >&2
  exit 2
fi
version=$1

# run prints a command that changes something, quoted so that it can be
# pasted; it runs it unless --dry-run.
run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  if [ -z "$dry" ]; then "$@"; fi
}

# refuse stops the release; a dry run only says what it would refuse.
refuse() {
  echo "release: $*" >&2
  [ -n "$dry" ] || exit 1
  echo "# (--dry-run goes on)"
}

paths=()
for dir in $(published_modules); do paths+=(-module "$(module_path "$dir")"); done
last=$(latest_tag)
checks=("${paths[@]}")
[ -z "$last" ] || checks+=(-last "$last")
! breaking_declared || checks+=(-breaking)
if ! versioncheck "${checks[@]}" "$version"; then
  exit 2
fi

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
if ! grep -q '^## \[Unreleased\]$' CHANGELOG.md; then
  echo "release: CHANGELOG.md has no '## [Unreleased]' line to date" >&2
  exit 1
fi
if [ "$(git symbolic-ref --short -q HEAD || true)" != main ]; then
  refuse "releases are made from main, not $(git symbolic-ref --short -q HEAD || echo 'a detached HEAD')"
fi
if [ -n "$(git status --porcelain)" ]; then
  git status --short >&2
  refuse "the tree has changes; commit or stash them first"
fi

if [ -n "$dry" ]; then
  echo "# would run: bash .ci/run (skipped by --dry-run)"
elif [ -n "${SKIP_CI:-}" ]; then
  echo "# skipped: bash .ci/run (SKIP_CI is set)"
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
    have=$(required_version "$dir" "$path")
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
dated="## [$version] - $(date -u +%Y-%m-%d)"
if [ -z "$dry" ]; then
  awk -v dated="$dated" '{ print } $0 == "## [Unreleased]" { print ""; print dated }' CHANGELOG.md >CHANGELOG.md.new
  mv CHANGELOG.md.new CHANGELOG.md
else
  echo "+ add '$dated' under '## [Unreleased]' in CHANGELOG.md"
fi

echo "== commit, rehearse, tag"
run git commit -q -am "Release $version"
if [ -z "$dry" ]; then
  if ! bash scripts/rehearse-release.sh "$version"; then
    echo "release: the rehearsal failed; nothing is tagged. The commit \"Release $version\" is left for a look: undo it with git reset --hard HEAD~1" >&2
    exit 1
  fi
else
  echo "# would run: scripts/rehearse-release.sh $version"
fi
for tag in "${tags[@]}"; do
  run git tag -a "$tag" -m "userauth $version"
done
echo "# to publish: git push origin HEAD ${tags[*]}"

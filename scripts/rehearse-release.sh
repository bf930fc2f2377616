#!/usr/bin/env bash
# Rehearses a release as a user would meet it, without tagging or pushing:
# every published module of the working tree's tracked files is served from a
# file-based module proxy at one candidate version; then, from fresh modules
# with an empty module cache, each published module is fetched alone with
# `go get`, a program importing every one of its public packages is built,
# and the CLI is installed with `go install ...@VERSION`. It also checks that
# each nested module's go.mod is tidy against that candidate.
#
#   scripts/rehearse-release.sh [VERSION]
#
# VERSION defaults to the version the next release would tag (see
# candidate_version in lib.sh): the one the nested modules require before
# the first release, else the patch after the latest tag. When the nested
# modules require a released version other than VERSION, the copy gets the
# edit scripts/release.sh would make (they require VERSION); a requirement
# that is neither released nor VERSION fails, as it would fail users.
# TIDY=write copies `go mod tidy`'s go.mod back into the tree instead of
# failing on a difference.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"

version=${1:-$(candidate_version)}
required=$(required_root_version)
echo "== rehearsing $version"

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
release_tree "$work/src" "$work/proxy" "$version"

# A user's machine: nothing cached, no workspace, this repository's modules
# found only in the proxy (and not in the checksum database, which has never
# seen them), everything else from the usual proxy.
# The machine's own module cache serves as a proxy too (its cache/download
# is one), so that the third-party modules come from disk when they can: a
# user's empty cache is still empty, and a stalled download is less likely.
export GOPROXY="file://$work/proxy,file://$(go env GOMODCACHE)/cache/download,$(go env GOPROXY)"
export GONOSUMDB=$root_module GOMODCACHE=$work/modcache GOFLAGS=-modcacherw GOWORK=off
unset GOPRIVATE GONOPROXY

echo "== nested modules are tidy against $version"
untidy=0
for dir in $(published_modules); do
  [ "$dir" = . ] && continue
  (cd "$work/src/$dir" && cp go.mod go.mod.before && go mod tidy)
  if ! diff -u "$work/src/$dir/go.mod.before" "$work/src/$dir/go.mod"; then
    if [ "${TIDY:-}" = write ] && [ "$required" = "$version" ]; then
      cp "$work/src/$dir/go.mod" "$repo/$dir/go.mod"
      echo "rehearse: wrote the tidy $dir/go.mod"
    else
      echo "rehearse: $dir/go.mod is not tidy against $version (TIDY=write $0 fixes it)" >&2
      untidy=1
    fi
  fi
done
[ "$untidy" = 0 ] || exit 1

n=0
for dir in $(published_modules); do
  n=$((n + 1))
  path=$(module_path "$work/src/$dir")
  echo "== go get $path@$version, alone, and build every public package"
  user="$work/user$n"
  mkdir "$user"
  (
    cd "$user"
    go mod init example.com/rehearsal >/dev/null 2>&1
    go get "$path@$version"
    pkgs=$(go list -e -f '{{if and .GoFiles (ne .Name "main")}}{{.ImportPath}}{{end}}' "$path/..." | grep -v '/internal\(/\|$\)')
    [ -n "$pkgs" ] || { echo "rehearse: $path has no public package" >&2; exit 1; }
    {
      echo "package main"
      echo
      echo "import ("
      for p in $pkgs; do echo "	_ \"$p\""; done
      echo ")"
      echo
      echo "func main() {}"
    } > main.go
    go mod tidy
    go build -o /dev/null .
    echo "$pkgs" | sed 's/^/built /'
  )
done

echo "== go install $root_module/cmd/userauth@$version"
GOBIN="$work/bin" go install "$root_module/cmd/userauth@$version"
got=$("$work/bin/userauth" version)
echo "$got"
case "$got" in
  *"$version"*) ;;
  *) echo "rehearse: the installed CLI says '$got', not $version" >&2; exit 1 ;;
esac
echo "== rehearsal of $version passed"

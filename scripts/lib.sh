# Shared by the release scripts. Source it; it runs nothing itself. It
# expects $repo, the repository's top directory.
root_module=github.com/tarilabs/userauth

# published_modules prints the directories of scripts/published-modules.
published_modules() {
  grep -v '^[[:space:]]*\(#\|$\)' "$repo/scripts/published-modules"
}

# module_path DIR prints the module path that DIR/go.mod declares.
module_path() {
  awk '$1 == "module" { print $2; exit }' "$1/go.mod"
}

# required_version DIR PATH prints the version of module PATH that
# DIR/go.mod requires, or nothing.
required_version() {
  awk -v m="$2" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$1/go.mod"
}

# required_root_version prints the version of the root that the nested
# modules require (every go.mod of the tree that requires it: the published
# ones, and bench and the examples, which a release edits alike); it fails
# when they disagree.
required_root_version() {
  local gomod v version=""
  for gomod in $(git -C "$repo" ls-files '*go.mod'); do
    [ "$gomod" = go.mod ] && continue
    v=$(required_version "$repo/$(dirname "$gomod")" "$root_module")
    [ -n "$v" ] || continue
    if [ -n "$version" ] && [ "$v" != "$version" ]; then
      echo "the nested modules require different versions of the root: $root_module@$version, and $root_module@$v in $gomod" >&2
      return 1
    fi
    version=$v
  done
  echo "$version"
}

# is_tagged VERSION reports whether the root's release tag VERSION exists.
is_tagged() {
  git -C "$repo" rev-parse -q --verify "refs/tags/$1" >/dev/null
}

# latest_tag prints the latest release tag reachable from HEAD, or nothing.
latest_tag() {
  git -C "$repo" describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true
}

# versioncheck runs tools/versioncheck.
versioncheck() {
  (cd "$repo/tools" && GOWORK=off go run ./versioncheck "$@")
}

# candidate_version prints the version the next release would tag: the one
# the nested modules require while it is not tagged (before the first
# release), else the patch version after the latest tag.
candidate_version() {
  local required
  required=$(required_root_version) || return 1
  if [ -n "$required" ] && ! is_tagged "$required"; then
    echo "$required"
  else
    versioncheck -next -last "$(latest_tag)"
  fi
}

# breaking_declared reports whether CHANGELOG.md's Unreleased section has a
# "### Breaking" heading.
breaking_declared() {
  sed -n '/^## \[Unreleased\]/,/^## \[v/p' "$repo/CHANGELOG.md" | grep -q '^### Breaking'
}

# tracked_copy DEST copies the working tree's tracked files, as they are
# now, to DEST: the tree as a commit of it would be.
tracked_copy() {
  mkdir -p "$1"
  (cd "$repo" && git ls-files -z | tar --null -T - -cf -) | tar -x -C "$1"
}

# serve_modules SRC PROXY VERSION writes a file-based module proxy at PROXY
# serving the published modules of the tree SRC at VERSION. As the go
# command does for a nested module without a licence of its own, each gets
# the root's LICENSE.
serve_modules() {
  local src=$1 proxy=$2 version=$3 dir dirs=()
  (cd "$repo/tools" && GOWORK=off go build -o "$proxy.modproxy" ./modproxy)
  for dir in $(published_modules); do
    if [ "$dir" != . ] && [ ! -e "$src/$dir/LICENSE" ]; then
      cp "$src/LICENSE" "$src/$dir/LICENSE"
    fi
    dirs+=("$src/$dir")
  done
  "$proxy.modproxy" -out "$proxy" -version "$version" "${dirs[@]}"
}

# release_tree SRC PROXY VERSION lays out at SRC the tree a release of
# VERSION would tag, and serves its published modules from the file-based
# module proxy PROXY. When the nested modules require a released version
# other than VERSION, SRC gets the edit scripts/release.sh makes (they
# require VERSION); a requirement that is neither released nor VERSION
# fails, as it would fail users.
release_tree() {
  local src=$1 proxy=$2 version=$3 required dir
  required=$(required_root_version) || return 1
  tracked_copy "$src"
  if [ "$required" != "$version" ]; then
    if ! is_tagged "$required"; then
      echo "the nested modules require $root_module@$required, which is neither a release tag nor the candidate $version: users could not fetch it" >&2
      return 1
    fi
    for dir in $(published_modules); do
      [ "$dir" = . ] || (cd "$src/$dir" && go mod edit -require="$root_module@$version")
    done
    echo "(the nested modules require $required; as the release would, they require $version here)"
  fi
  serve_modules "$src" "$proxy" "$version"
}

#!/usr/bin/env bash
# Runs govulncheck over every published module, offline: the vulnerability
# database is built from the golang.org/x/vulndb module at a pinned version
# (update vulndb_version deliberately, and say so in CHANGELOG.md), because CI
# cannot reach the public database host. Each module is checked as a user
# gets it: outside the workspace, with the versions its own go.mod selects,
# the root served at the next release's version (see release_tree).
#
# Fails on a vulnerability in a third-party module that our code calls.
# Prints the standard library's findings for the Go in use without failing:
# they are fixed by building with a patched Go, which is the user's toolchain.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib.sh"
vuln_version=v1.9.0                                    # golang.org/x/vuln
vulndb_version=v0.0.0-20261105234957-e22db6528018      # golang.org/x/vulndb, 2026-11-05

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export GOWORK=off GOFLAGS=-mod=mod
# The machine's module cache serves third-party modules (offline), but the
# check runs on a cache of its own: a copy of this repository's modules that
# an earlier run left there, at the same version, would be checked instead
# of the tree under test.
cache=$(go env GOMODCACHE)

osv=$(go mod download -json "golang.org/x/vulndb@$vulndb_version" | jq -r .Dir)/data/osv
go run "golang.org/x/vulndb/cmd/indexdb@$vulndb_version" -vulns "$osv" -out "$work/db"
echo "vulnerability database: golang.org/x/vulndb@$vulndb_version ($(find "$osv" -name '*.json' | wc -l) entries)"

candidate=$(candidate_version)
release_tree "$work/src" "$work/proxy" "$candidate"
failed=0
for dir in $(published_modules); do
  echo "== govulncheck $(module_path "$repo/$dir")"
  (cd "$work/src/$dir" && GOMODCACHE="$work/modcache" GOPROXY="file://$work/proxy,file://$cache/cache/download,$(go env GOPROXY)" GONOSUMDB=$root_module \
    go run "golang.org/x/vuln/cmd/govulncheck@$vuln_version" -db "file://$work/db" -format json ./...) >"$work/out.json"
  # A finding whose trace starts at a function is one our code calls.
  called=$(jq -r 'select(.finding and .finding.trace[0].module != "stdlib" and .finding.trace[0].function)
      | .finding | "\(.osv) in \(.trace[0].module)@\(.trace[0].version) (fixed in \(.fixed_version))"' "$work/out.json" | sort -u)
  stdlib=$(jq -r 'select(.finding and .finding.trace[0].module == "stdlib" and .finding.trace[0].function)
      | .finding | "\(.osv) (fixed in Go \(.fixed_version))"' "$work/out.json" | sort -u)
  imported=$(jq -r 'select(.finding and .finding.trace[0].module != "stdlib" and (.finding.trace[0].function | not))
      | .finding | "\(.osv) in \(.trace[0].module)@\(.trace[0].version)"' "$work/out.json" | sort -u)
  if [ -n "$called" ]; then
    echo "called vulnerabilities in third-party modules:"; echo "$called" | sed 's/^/  /'
    failed=1
  else
    echo "no called vulnerability in a third-party module"
  fi
  [ -z "$imported" ] || { echo "in modules we require, not called (for information):"; echo "$imported" | sed 's/^/  /'; }
  [ -z "$stdlib" ] || { echo "called in the standard library of $(go env GOVERSION) (build with a patched Go):"; echo "$stdlib" | sed 's/^/  /'; }
done
exit "$failed"

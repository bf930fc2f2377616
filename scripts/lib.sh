# Shared by the release scripts: the published modules and the root's
# module path. Source it; it runs nothing itself.
root_module=github.com/tarilabs/userauth

# published_modules prints the directories of scripts/published-modules.
published_modules() {
  grep -v '^[[:space:]]*\(#\|$\)' "$(dirname "${BASH_SOURCE[0]}")/published-modules"
}

# module_path DIR prints the module path that DIR/go.mod declares.
module_path() {
  awk '$1 == "module" { print $2; exit }' "$1/go.mod"
}

# required_root_version DIR prints the version of the root module that
# DIR/go.mod requires, or nothing.
required_root_version() {
  awk -v m="$root_module" '$1 == m { print $2 } $1 == "require" && $2 == m { print $3 }' "$1/go.mod"
}

#!/usr/bin/env bash
# Runs every benchmark side by side and rewrites BENCHMARKS.md at the top of
# the repository. Takes a few minutes.
#   COUNT (default 10) runs of each benchmark; BENCHTIME (default 1s) each.
set -euo pipefail
cd "$(dirname "$0")"
benchstat_version=v0.0.0-20260908200009-22c9c6c9d4da
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go test -run '^$' -bench . -benchmem -count="${COUNT:-10}" -benchtime="${BENCHTIME:-1s}" . | tee "$work/bench.txt"
go run "golang.org/x/perf/cmd/benchstat@$benchstat_version" "$work/bench.txt" > "$work/benchstat.txt"
go run ./report -in "$work/bench.txt" -benchstat "$work/benchstat.txt" -out ../BENCHMARKS.md -cmd "bench/run.sh (COUNT=${COUNT:-10} BENCHTIME=${BENCHTIME:-1s})"
echo "wrote BENCHMARKS.md"

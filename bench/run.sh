#!/usr/bin/env bash
# Runs every benchmark side by side, rewrites BENCHMARKS.md at the top of the
# repository and keeps the raw output in bench/results.txt (the baseline for
# benchstat next time). Takes a few minutes.
#   COUNT (default 10) runs of each benchmark; BENCHTIME (default 1s) each.
set -euo pipefail
cd "$(dirname "$0")"
benchstat_version=v0.0.0-20260908200009-22c9c6c9d4da
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One pass runs every benchmark once, peers side by side; COUNT passes in a
# row interleave them, so that drift of the machine hits all peers alike
# (-count=N would run each benchmark N times before the next).
go test -c -o "$work/bench.test" .
for i in $(seq 1 "${COUNT:-10}"); do
  "$work/bench.test" -test.run '^$' -test.bench . -test.benchmem -test.benchtime="${BENCHTIME:-1s}"  || exit 1
done | tee "$work/bench.txt"
go run "golang.org/x/perf/cmd/benchstat@$benchstat_version" "$work/bench.txt" > "$work/benchstat.txt"
go run ./report -in "$work/bench.txt" -benchstat "$work/benchstat.txt" -out ../BENCHMARKS.md -cmd "bench/run.sh (COUNT=${COUNT:-10} BENCHTIME=${BENCHTIME:-1s})"
cp "$work/bench.txt" results.txt
echo "wrote BENCHMARKS.md and bench/results.txt"

#!/usr/bin/env bash
# Runs every benchmark side by side, rewrites BENCHMARKS.md at the top of the
# repository and keeps the raw output in bench/results.txt (the baseline for
# benchstat next time). Takes a few minutes.
#   COUNT (default 10) runs of each benchmark; BENCHTIME (default 1s) each.
#   FROM=file rewrites the report from that earlier output instead of running.
set -euo pipefail
if [ -n "${FROM:-}" ]; then FROM=$(realpath "$FROM"); fi # before the cd below
cd "$(dirname "$0")"
benchstat_version=v0.0.0-20260908200009-22c9c6c9d4da
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One pass runs every benchmark once, peers side by side; COUNT passes in a
# row interleave them, so that drift of the machine hits all peers alike
# (-count=N would run each benchmark N times before the next).
if [ -n "${FROM:-}" ]; then
  cp "$FROM" "$work/bench.txt" # rewrite the report from an earlier run's output
else
  go test -c -o "$work/bench.test" .
  for i in $(seq 1 "${COUNT:-10}"); do
    "$work/bench.test" -test.run '^$' -test.bench . -test.benchmem -test.benchtime="${BENCHTIME:-1s}"  || exit 1
  done | tee "$work/bench.txt"
fi
benchstat() { go run "golang.org/x/perf/cmd/benchstat@$benchstat_version" "$@"; }
benchstat results="$work/bench.txt" > "$work/benchstat.txt" # labelled: no temporary path in the report

# Peer against peer, with benchstat's significance test: one file per peer
# of the client benchmarks, the peer's name taken out of each line.
for peer in raw oapi userauth; do
  { grep -E '^(goos|goarch|pkg|cpu):' "$work/bench.txt" | sort -u
    grep -E "^Benchmark(Login|RefreshToken|LoginOverhead)/$peer-" "$work/bench.txt" | sed "s#/$peer-#-#"
  } > "$work/$peer.txt"
done
{ benchstat raw="$work/raw.txt" userauth="$work/userauth.txt"
  echo
  benchstat oapi="$work/oapi.txt" userauth="$work/userauth.txt"
} > "$work/peers.txt"

go run ./report -in "$work/bench.txt" -benchstat "$work/benchstat.txt" -peers "$work/peers.txt" -out ../BENCHMARKS.md -cmd "bench/run.sh (COUNT=${COUNT:-10} BENCHTIME=${BENCHTIME:-1s})"
cp "$work/bench.txt" results.txt
echo "wrote BENCHMARKS.md and bench/results.txt"

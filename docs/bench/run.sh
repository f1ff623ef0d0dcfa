#!/usr/bin/env bash
# Runs the benchmark of docs/PERFORMANCE.md side by side: scorepipe from
# stored replies to Parquet, then DuckDB on the same replies as NDJSON, and
# prints the ratio. Usage: docs/bench/run.sh [ROWS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-200000}
runs=${2:-5}
work=$(mktemp -d /tmp/scorepipe-bench-XXXX)
go build -o "$work/scorepipe" ./cmd/scorepipe
"$work/scorepipe" bench --rows "$rows" --runs "$runs" --dir "$work/data"

duck=${DUCKDB_NODE_MODULES:-/tmp/scorepipe-duckdb/node_modules}
if [ ! -d "$duck/@duckdb/node-api" ]; then
  npm install --silent --prefix "$(dirname "$duck")" @duckdb/node-api >/dev/null
fi
NODE_PATH=$duck node docs/bench/duckdb.mjs "$work/data" "$runs" | tee "$work/duckdb.txt"

ours=$(sed -n 's/.*"rows_per_second": \([0-9.]*\).*/\1/p' "$work/data/bench.json")
theirs=$(sed -n 's/.*median of [^,]*, \([0-9]*\) rows\/s.*/\1/p' "$work/duckdb.txt")
our_cpu=$(sed -n 's/.*"median_cpu_seconds": \([0-9.]*\).*/\1/p' "$work/data/bench.json")
their_cpu=$(sed -n 's/.*median of .*; CPU \([0-9.]*\) s.*/\1/p' "$work/duckdb.txt")
awk -v a="$ours" -v b="$theirs" -v ca="$our_cpu" -v cb="$their_cpu" -v n="$rows" 'BEGIN {
  printf "scorepipe %.0f rows/s, DuckDB %.0f rows/s: ratio %.2f\n", a, b, a / b
  printf "CPU per row: scorepipe %.1f µs, DuckDB %.1f µs: ratio %.2f (DuckDB / scorepipe, as above: above 1 favours scorepipe)\n", 1e6 * ca / n, 1e6 * cb / n, cb / ca
}'

# The machine's speed drifts within minutes, so the ratio is taken once
# more from pairs run back to back: a run of scorepipe from the store, then
# one of DuckDB, RUNS times; the median of the pairs' ratios is reported.
TIMEFORMAT='%R'
pairs=()
for i in $(seq "$runs"); do
  ours_s=$( { time "$work/scorepipe" run -c "$work/data/bench.yaml" --out "$work/data/pair-$i" >/dev/null 2>&1; } 2>&1 )
  theirs_s=$(NODE_PATH=$duck node docs/bench/duckdb.mjs "$work/data" 1 | sed -n 's/^duckdb run 1: \([0-9.]*\) s.*/\1/p')
  pairs+=("$(awk -v a="$ours_s" -v b="$theirs_s" 'BEGIN { printf "%.3f", b / a }')")
  echo "pair $i: scorepipe ${ours_s} s, DuckDB ${theirs_s} s: ratio ${pairs[-1]}"
done
printf '%s\n' "${pairs[@]}" | sort -n | awk '{ r[NR] = $1 } END {
  m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
  printf "median ratio of %d back-to-back pairs: %.2f (DuckDB time / scorepipe time: above 1 favours scorepipe)\n", NR, m
}'
echo "results in $work"

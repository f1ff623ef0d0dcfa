#!/usr/bin/env bash
# Runs the benchmark of docs/PERFORMANCE.md side by side: scorepipe from
# stored replies to Parquet, then DuckDB on the same replies as NDJSON (the
# replies alone, then joined with the applicants file), and prints the
# ratios. Usage: docs/bench/run.sh [ROWS] [RUNS]
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
# DuckDB twice: the replies alone, as target 2 states it, and the training
# set scorepipe writes (the applicants joined with the expanded replies).
for mode in replies training; do
  NODE_PATH=$duck node docs/bench/duckdb.mjs "$work/data" "$runs" "$mode" | tee "$work/duckdb-$mode.txt"
done

ours=$(sed -n 's/.*"rows_per_second": \([0-9.]*\).*/\1/p' "$work/data/bench.json")
our_cpu=$(sed -n 's/.*"median_cpu_seconds": \([0-9.]*\).*/\1/p' "$work/data/bench.json")
for mode in replies training; do
  theirs=$(sed -n 's/.*median of [^,]*, \([0-9]*\) rows\/s.*/\1/p' "$work/duckdb-$mode.txt")
  their_cpu=$(sed -n 's/.*median of .*; CPU \([0-9.]*\) s.*/\1/p' "$work/duckdb-$mode.txt")
  awk -v m="$mode" -v a="$ours" -v b="$theirs" -v ca="$our_cpu" -v cb="$their_cpu" -v n="$rows" 'BEGIN {
    printf "DuckDB %s: scorepipe %.0f rows/s, DuckDB %.0f rows/s: ratio %.2f\n", m, a, b, a / b
    printf "DuckDB %s: CPU per row: scorepipe %.1f µs, DuckDB %.1f µs: ratio %.2f (DuckDB / scorepipe, as above: above 1 favours scorepipe)\n", m, 1e6 * ca / n, 1e6 * cb / n, cb / ca
  }'
done

# The machine's speed drifts within minutes, so the ratios are taken once
# more from runs back to back: a run of scorepipe from the store, then one
# of DuckDB in each mode, RUNS times; the median of each mode's ratios is
# reported.
TIMEFORMAT='%R'
pairs_replies=()
pairs_training=()
for i in $(seq "$runs"); do
  ours_s=$( { time "$work/scorepipe" run -c "$work/data/bench.yaml" --out "$work/data/pair-$i" >/dev/null 2>&1; } 2>&1 )
  line="round $i: scorepipe ${ours_s} s"
  for mode in replies training; do
    theirs_s=$(NODE_PATH=$duck node docs/bench/duckdb.mjs "$work/data" 1 "$mode" | sed -n 's/^duckdb run 1: \([0-9.]*\) s.*/\1/p')
    ratio=$(awk -v a="$ours_s" -v b="$theirs_s" 'BEGIN { printf "%.3f", b / a }')
    declare -n pairs="pairs_$mode"
    pairs+=("$ratio")
    line="$line, DuckDB $mode ${theirs_s} s (ratio $ratio)"
  done
  echo "$line"
done
for mode in replies training; do
  declare -n pairs="pairs_$mode"
  printf '%s\n' "${pairs[@]}" | sort -n | awk -v m="$mode" '{ r[NR] = $1 } END {
    x = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
    printf "DuckDB %s: median ratio of %d back-to-back pairs: %.2f (DuckDB time / scorepipe time: above 1 favours scorepipe)\n", m, NR, x
  }'
done
echo "results in $work"

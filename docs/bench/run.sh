#!/usr/bin/env bash
# Runs the benchmark of docs/PERFORMANCE.md side by side: scorepipe from
# stored replies to Parquet, and DuckDB writing the same training set from
# the same replies exported as NDJSON (mode "training", target 2) and the
# replies alone (mode "replies", for information), in interleaved rounds.
#
# Usage: docs/bench/run.sh [ROWS] [ROUNDS] [BUILD...]
#
# Each BUILD is another build of scorepipe run in every round beside the
# one of this tree, on the same stored replies: a scorepipe executable, or
# a git revision (built from `git archive`). BENCH_DATA=DIR reuses the
# store of an earlier run of `scorepipe bench --dir DIR` (of ROWS rows)
# instead of filling a new one.
#
# A round runs each build once (in an order that rotates from round to
# round), then DuckDB in each mode. The machine's speed drifts within
# minutes, so a build is compared with another, and with DuckDB, by the
# median over the rounds of the ratio of their times within a round.
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-200000}
rounds=${2:-7}
shift $(($# < 2 ? $# : 2))
work=$(mktemp -d /tmp/scorepipe-bench-XXXX)

names=(this)
bins=("$work/scorepipe")
go build -o "$work/scorepipe" ./cmd/scorepipe
for b in "$@"; do
  if [ -x "$b" ] && [ -f "$b" ]; then
    names+=("$(basename "$b")")
    bins+=("$(cd "$(dirname "$b")" && pwd)/$(basename "$b")")
  else
    rev=$(git rev-parse --short "$b")
    mkdir -p "$work/src-$rev"
    git archive "$rev" | tar -x -C "$work/src-$rev"
    (cd "$work/src-$rev" && go build -o "$work/scorepipe-$rev" ./cmd/scorepipe)
    names+=("$b")
    bins+=("$work/scorepipe-$rev")
  fi
done

data=${BENCH_DATA:-$work/data}
if [ -z "${BENCH_DATA:-}" ]; then
  "$work/scorepipe" bench --rows "$rows" --runs 0 --dir "$data"
fi

duck=${DUCKDB_NODE_MODULES:-/tmp/scorepipe-duckdb/node_modules}
if [ ! -d "$duck/@duckdb/node-api" ]; then
  npm install --silent --prefix "$(dirname "$duck")" @duckdb/node-api >/dev/null
fi
modes=(training replies)

# runs prints "wall cpu peak_rss_mb" of a run of build $1 from the store.
# Every run appends a line per row to the consent audit log beside the
# store; it is removed first, so that each run starts from the same state
# and a million-row bench does not leave gigabytes of log behind.
runs() {
  local out="$work/out"
  rm -rf "$out" "$data/store/audit.jsonl"
  /usr/bin/time -f '%e %U %S' -o "$work/time" "$1" run -c "$data/bench.yaml" --out "$out" --log-level warn >/dev/null 2>"$work/stderr" || {
    cat "$work/stderr" >&2
    exit 1
  }
  grep -q "\"from_store\": $rows" "$out/manifest.json" || {
    echo "the run did not answer every row from the store: see $out/manifest.json" >&2
    exit 1
  }
  local rss
  rss=$(sed -n 's/.*"peak_rss_mb": \([0-9.]*\).*/\1/p' "$out/manifest.json")
  awk -v r="${rss:-0}" '{ printf "%s %.2f %s\n", $1, $2 + $3, r }' "$work/time"
}

# duckdb prints "wall cpu" of a DuckDB run in mode $1.
duckdb() {
  NODE_PATH=$duck node docs/bench/duckdb.mjs "$data" 1 "$1" |
    sed -n 's/^duckdb run 1: \([0-9.]*\) s.*CPU \([0-9.]*\) s.*/\1 \2/p'
}

: >"$work/rounds.txt"
n=${#bins[@]}
for i in $(seq "$rounds"); do
  line="round $i:"
  for k in $(seq 0 $((n - 1))); do
    j=$(((k + i) % n))
    read -r wall cpu rss < <(runs "${bins[$j]}")
    echo "$i build ${names[$j]} $wall $cpu $rss" >>"$work/rounds.txt"
    line="$line ${names[$j]} ${wall} s (CPU ${cpu} s, ${rss} MB),"
  done
  for m in "${modes[@]}"; do
    read -r wall cpu < <(duckdb "$m")
    echo "$i duckdb $m $wall $cpu 0" >>"$work/rounds.txt"
    line="$line DuckDB $m ${wall} s (CPU ${cpu} s),"
  done
  echo "${line%,}"
done

# The summary: medians per build and per DuckDB mode, then the medians of
# the ratios within a round.
awk -v rows="$rows" -v first="${names[0]}" '
function median(list,   a, n, t, i, j) {
  n = split(list, a, " ")
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
  key = $2 " " $3
  if (!(key in wall)) order[++keys] = key
  wall[key] = wall[key] " " $4; cpu[key] = cpu[key] " " $5; rss[key] = rss[key] " " $6
  w[$1, key] = $4; c[$1, key] = $5
  if ($1 > last) last = $1
}
END {
  printf "\n%d rows, %d rounds; medians:\n", rows, last
  for (k = 1; k <= keys; k++) {
    key = order[k]; split(key, p, " ")
    mw = median(wall[key]); mc = median(cpu[key])
    printf "  %-8s %-24s %6.2f s  %8.0f rows/s  CPU %6.2f s (%4.1f µs/row)", p[1], p[2], mw, rows / mw, mc, 1e6 * mc / rows
    if (p[1] == "build") printf "  peak RSS %5.1f MB", median(rss[key])
    printf "\n"
  }
  printf "median of the ratios within a round:\n"
  for (k = 1; k <= keys; k++) {
    key = order[k]; split(key, p, " ")
    if (p[1] != "build") continue
    for (m = 1; m <= keys; m++) {
      other = order[m]; split(other, q, " ")
      if (q[1] != "duckdb") continue
      list = ""
      for (r = 1; r <= last; r++) if ((r, key) in w && (r, other) in w) list = list " " w[r, other] / w[r, key]
      printf "  %-24s to DuckDB %-8s %.2f  (DuckDB time / scorepipe time: above 1 favours scorepipe)\n", p[2], q[2], median(list)
    }
    if (p[2] != first) {
      lw = ""; lc = ""
      for (r = 1; r <= last; r++) if ((r, key) in w && (r, "build " first) in w) {
        lw = lw " " w[r, key] / w[r, "build " first]; lc = lc " " c[r, key] / c[r, "build " first]
      }
      printf "  %-24s to %s: wall %.3f, CPU %.3f  (above 1: %s is slower)\n", p[2], first, median(lw), median(lc), p[2]
    }
  }
}' "$work/rounds.txt" | tee "$work/summary.txt"
echo "results in $work"

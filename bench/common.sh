# bench/common.sh - knobs and metadata shared by the bench scripts (sourced, not run).
#
# Every bench script takes the same knobs, from the environment (bench/run-all.sh and
# `make bench QUICK=1 THREADS=2 REPEAT=5` pass them on):
#   QUICK=1     a few minutes in all: smaller sizes, fewer models, fewer repetitions
#   THREADS=T   threads of the measured runs (scripts that time one thread by design say so)
#   REPEAT=R    timed repetitions where a script repeats runs
# and writes, next to each CSV it makes, NAME.meta.csv: key,value rows saying what the figures
# were measured on (version, commit, date, machine, load). The figures' own CSV stays a plain
# table (its plots read it as one).
QUICK=${QUICK:-0}

# bench_meta PRIVNN CSV: write CSV's metadata to ${CSV%.csv}.meta.csv
bench_meta() {
  local bin=$1 csv=$2 meta=${2%.csv}.meta.csv v
  v=$("$bin" --version 2>/dev/null || echo "privnn ?")
  {
    echo "key,value"
    echo "file,$(basename "$csv")"
    echo "version,$(echo "$v" | awk '{print $2}')"
    echo "commit,$(echo "$v" | sed -n 's/.*(commit \(.*\))/\1/p')"
    echo "date,$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine,\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\""
    echo "cores,$(nproc)"
    echo "load_1min,$(cut -d' ' -f1 /proc/loadavg)"
    echo "quick,$QUICK"
    echo "threads,${THREADS:-default}"
    echo "repeat,${REPEAT:-default}"
  } > "$meta"
}

# bench_bin SCRIPT [BUILD_DIR | path/to/privnn]: print the privnn to measure (a folder: its privnn;
# default build/), or say what is missing and fail
bench_bin() {
  local b=${2:-build}
  [ -d "$b" ] && b="$b/privnn"
  [ -x "$b" ] || { echo "$1: $b not found (build first)" >&2; return 1; }
  echo "$b"
}

# bench_bars PIVOT.csv PNG TITLE YLABEL [GNUPLOT LINE...]: a clustered bar chart of a pivot table
# (first column: the group's label; every other column: one bar, its header the bar's title), if
# gnuplot is installed; extra lines (set logscale y, set xtics ...) go before the plot command
bench_bars() {
  local pivot=$1 png=$2 title=$3 ylabel=$4 cols
  shift 4
  if ! command -v gnuplot >/dev/null 2>&1; then
    echo "gnuplot not found: no $(basename "$png")"
    return 0
  fi
  cols=$(head -1 "$pivot" | awk -F, '{ print NF }')
  gnuplot <<GP
set terminal pngcairo size 1200,560 noenhanced
set output "$png"
set datafile separator ","
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "$ylabel"
set title "$title"
set key top left autotitle columnhead
$(printf '%s\n' "$@")
plot for [i=2:$cols] "$pivot" using i:xtic(1)
GP
  echo "wrote $png"
}

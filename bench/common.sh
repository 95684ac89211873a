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

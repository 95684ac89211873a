#!/bin/bash
# test_bench_plots.sh - the plots of bench/mpc.sh, bench/train.sh and bench/proteus.sh, redrawn with
# PLOT_ONLY=1 from CSVs written here: each table pivoted as the chart reads it (a setting the
# bench did not run is NaN, not a shifted column) and, with gnuplot installed, a PNG.
# Usage: bash test_bench_plots.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
have_gnuplot=0
command -v gnuplot >/dev/null && have_gnuplot=1

# same NAME FILE EXPECTED: FILE holds exactly EXPECTED
same() {
  if [ "$(cat "$2" 2>/dev/null)" = "$3" ]; then ok; else fail "$1: got '$(cat "$2" 2>/dev/null)', wanted '$3'"; fi
}
# png NAME FILE: a PNG image (when gnuplot is installed)
png() {
  [ $have_gnuplot = 1 ] || return 0
  if [ "$(head -c 4 "$2" 2>/dev/null | od -An -c | tr -d ' ')" = '211PNG' ] && [ "$(stat -c %s "$2")" -gt 2000 ]; then
    ok
  else
    fail "$1: $2 is not a PNG plot"
  fi
}

# mpc: ReLU rows and end-to-end rows of two settings, one lacking a plan
mkdir -p "$W/mpc"
cat >"$W/mpc/mpc.csv" <<'CSV'
section,model,net,weights,plan,n,bits_per_relu,bits_formula,rounds,rounds_formula,relu_per_second,agreement,accuracy,bits_discarded,mb_per_image_per_party,rounds_per_batch,wall_seconds_per_image,modeled_seconds_per_image,speedup_wall,speedup_modeled
relu,,loopback,,full-bit,64,1856.00,1856,9,9,72208,,,,,,,,,
relu,,loopback,,hummingbird-table,8,73.00,73,2,2,2453698,,,,,,,,,
e2e,resnet-s,lan,public,full-bit,,,,,,,1.0000,1.0000,0.0000,10.1857,45.0,0.41749,0.13561,1.000,1.000
e2e,resnet-s,lan,public,n8,,,,,,,1.0000,1.0000,0.8750,0.4006,10.0,0.11211,0.01950,3.724,6.953
e2e,resnet-s,wan,secret,full-bit,,,,,,,1.0000,1.0000,0.0000,12.5000,45.0,2.50000,2.40000,1.000,1.000
CSV
printf 'key,value\nload_1min,3.5\n' >"$W/mpc/mpc.meta.csv"
OUT=$W/mpc PLOT_ONLY=1 sh "$SRC/bench/mpc.sh" >"$W/out" 2>&1
want_rc "bench/mpc.sh PLOT_ONLY=1" $? 0 "$W/out"
same "mpc ReLU pivot" "$W/mpc/mpc_relu_pivot.csv" "protocol,measured,formula
full-bit n=64,1856.00,1856
hummingbird-table n=8,73.00,73"
same "mpc communication pivot" "$W/mpc/mpc_comm_pivot.csv" "setting,full-bit,n8
resnet-s lan public,10.1857,0.4006
resnet-s wan secret,12.5000,NaN"
same "mpc time pivot" "$W/mpc/mpc_time_pivot.csv" "setting,full-bit,n8
resnet-s lan public,0.13561,0.01950
resnet-s wan secret,2.40000,NaN"
for f in mpc_relu mpc_comm mpc_time; do png "mpc $f" "$W/mpc/$f.png"; done

# train
mkdir -p "$W/train"
cat >"$W/train/train.csv" <<'CSV'
arch,threads,images,images_per_s,images_per_cpu_s,conv_gflops,conv_gflops_cpu,sgemm_peak_gflops,sgemm_peak_gflops_cpu,conv_fraction,conv_fraction_cpu
cnn-s,1,2560,333,1349,14.0,56.8,28.8,109.5,0.486,0.519
resnet-s,1,2560,213,822,14.6,48.7,28.8,109.5,0.506,0.445
CSV
OUT=$W/train PLOT_ONLY=1 bash "$SRC/bench/train.sh" "$W/no-build" >"$W/out" 2>&1
want_rc "bench/train.sh PLOT_ONLY=1" $? 0 "$W/out"
same "train pivot" "$W/train/train_pivot.csv" "arch,images/s (wall),images per CPU-s
cnn-s,333,1349
resnet-s,213,822"
same "train conv pivot" "$W/train/train_conv_pivot.csv" "arch,conv (wall),conv (CPU time),sgemm peak (wall),sgemm peak (CPU time)
cnn-s,14.0,56.8,28.8,109.5
resnet-s,14.6,48.7,28.8,109.5"
png "train" "$W/train/train.png"
png "train conv" "$W/train/train_conv.png"

# proteus: the quick table and the full one
mkdir -p "$W/proteus"
printf 'model,k,parts,files,bundle_gb,split_s,join_s\nmobilenetv2,4,6,30,0.07,0.90,0.17\n' >"$W/proteus/proteus-quick.csv"
OUT=$W/proteus QUICK=1 PLOT_ONLY=1 bash "$SRC/bench/proteus.sh" "$W/no-build" >"$W/out" 2>&1
want_rc "bench/proteus.sh QUICK=1 PLOT_ONLY=1" $? 0 "$W/out"
same "proteus quick pivot" "$W/proteus/proteus-quick_pivot.csv" "model,split (s),join (s)
mobilenetv2 (30 files; 0.07 GB),0.90,0.17"
png "proteus quick" "$W/proteus/proteus-quick.png"
cat >"$W/proteus/proteus.csv" <<'CSV'
model,k,parts,files,parameter_bytes,estimate_bytes,bundle_bytes,joined_bytes,split_s,ort_s,join_s,write_mb_s,bound_s,split_join_vs_bound,target,join_max_abs_err,join_max_abs_output,ort_whole_ms,ort_proteus_ms,latency_vs_whole,pn_basic_whole_ms,pn_basic_proteus_ms,pn_opt_whole_ms,pn_opt_proteus_ms,load_1min,note
resnet50,20,8,168,102228128,2146790688,2190000000,102000000,3.25,30.1,0.74,437,5.24,0.76,<10s:met/1.5x:met,1e-05,12.5,80.1,81.0,+1.1%,120.5,121.2,110.3,112.0,1.00,
distilbert,20,13,273,265452616,5574504936,5570000000,,9.00,40.2,,,,,,,,,,,,,,,2.00,join failed: reason
xlm,0,,,2668355584,,,,,,,,,,,,,,,,,,,,3.00,skipped: K = 1 needs 9.0 GB of disk; 5.0 GB free
CSV
OUT=$W/proteus QUICK=0 PLOT_ONLY=1 bash "$SRC/bench/proteus.sh" "$W/no-build" >"$W/out" 2>&1
want_rc "bench/proteus.sh PLOT_ONLY=1" $? 0 "$W/out"
same "proteus pivot" "$W/proteus/proteus_pivot.csv" "model,ORT extended whole,ORT extended Proteus,privnn (ORT basic) whole,privnn (ORT basic) Proteus,privnn (optimize) whole,privnn (optimize) Proteus
resnet50,80.1,81.0,120.5,121.2,110.3,112.0"
same "proteus speed pivot" "$W/proteus/proteus_speed_pivot.csv" "model,split (s),join (s),disk bound (s)
resnet50 (K = 20; 2.19 GB),3.25,0.74,5.24"
png "proteus speed" "$W/proteus/proteus_speed.png"
# without PN=1 the privnn executor columns are empty, and the chart has ONNX Runtime's bars only
sed -i 's/,120.5,121.2,110.3,112.0,/,,,,,/' "$W/proteus/proteus.csv"
OUT=$W/proteus QUICK=0 PLOT_ONLY=1 bash "$SRC/bench/proteus.sh" "$W/no-build" >"$W/out" 2>&1
want_rc "bench/proteus.sh PLOT_ONLY=1 (PN=0 table)" $? 0 "$W/out"
same "proteus pivot (PN=0)" "$W/proteus/proteus_pivot.csv" "model,ORT extended whole,ORT extended Proteus
resnet50,80.1,81.0"
png "proteus" "$W/proteus/proteus.png"
finish test_bench_plots "$([ $have_gnuplot = 1 ] && echo "PNGs checked" || echo "gnuplot not installed: no PNG checked")"

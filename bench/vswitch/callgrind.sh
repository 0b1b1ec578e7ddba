#!/bin/sh
# Instructions per packet for every vswitch benchmark row, counted by callgrind (repeatable,
# unlike wall-clock time). Only the measured loop is instrumented (--instr-atstart=no plus the
# CALLGRIND_START/STOP_INSTRUMENTATION requests in vswitch_bench), after a warm-up pass.
#   bench/vswitch/callgrind.sh path/to/vswitch_bench [packets [vswitch_bench options]]
# e.g. `... 16000 --no-caches` for the rows without their exact-match caches.
set -eu
bench=${1:?usage: callgrind.sh path/to/vswitch_bench [packets [vswitch_bench options]]}
packets=${2:-32000}
shift $(($# < 2 ? $# : 2))
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
printf '%-8s %6s %14s %12s\n' row bytes instructions instr/packet
for size in 64 1500; do
    for row in copy l2 acl encap decap; do
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$scratch/out" \
            "$bench" --row "$row" --size "$size" --packets "$packets" --callgrind "$@" \
            >"$scratch/log" 2>&1 || { cat "$scratch/log"; exit 1; }
        total=$(sed -n 's/^totals: *//p' "$scratch/out")
        printf '%-8s %6s %14s %12s\n' "$row" "$size" "$total" "$((total / packets))"
    done
done

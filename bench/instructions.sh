#!/bin/bash
# Instructions the engine's threads execute for a bench_engine scenario, counted by
# valgrind's callgrind inside EngineImpl::drain (the writer) and committer_loop (the
# committer): deterministic, unlike the clock on a shared VM, so two builds compare
# exactly. Prints one total per child process the scenario ran (the `nosync` scenario
# runs two: one core, then two).
#   bench/instructions.sh [bench binary] [scenario] [instances]
#   bench/instructions.sh ./build/bench/bench_engine cpu 20000      # 20k starts + 20k events, durable
#   bench/instructions.sh ./build/bench/bench_engine nosync 20000
# Needs valgrind (apt-get install valgrind). OpenSSL's SHA-256 runs its generic code
# under valgrind (about 7,400 instructions per step here), not the SHA extensions the
# CPU has, so that part is overstated.
set -euo pipefail
bin=${1:-./build/bench/bench_engine}
scenario=${2:-cpu}
n=${3:-20000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" \
  '--toggle-collect=bihuan::runtime::EngineImpl::drain(*' \
  '--toggle-collect=bihuan::runtime::EngineImpl::committer_loop(*' \
  "$bin" --scenario "$scenario" --n "$n" --runs 1 >/dev/null 2>&1
for f in "$out"/cg.*; do
  total=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {print $1}')
  # The parent process collects nothing (its total prints as "."); children report.
  if [[ "$total" =~ ^[0-9,]+$ ]] && [ "$total" != "0" ]; then echo "$scenario n=$n: $total instructions"; fi
done

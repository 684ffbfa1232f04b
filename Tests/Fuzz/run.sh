#!/usr/bin/env bash
# Tests/Fuzz/run.sh [SECONDS] — `make fuzz`: builds each libFuzzer target (swiftc
# -sanitize=fuzzer,address, over static builds of the modules it reads) and runs it for SECONDS
# (default 60) from its seeds (corpus/TARGET, plus the API documents of the core's test resources
# for the tender decoder). Prints each target's executions and coverage; exits 1 if any crashed.
# A crashing input lands in .build/fuzz/crashes/: keep it in corpus/TARGET (every run replays
# the corpus first) and as a test of the normal suite, then fix it. Targets: the client message
# reader (fast path against JSONDecoder), the amount parser (round trip), the load generator's
# glance at server messages, the tender document decoder and the auction input built from it.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
build=.build/fuzz
mkdir -p "$build/crashes"
flags=(-sanitize=fuzzer,address -swift-version 6 -parse-as-library -g -O -I "$build" -L "$build")

# library NAME SOURCES… — a static library and its module, instrumented like the targets.
library() {
  local name=$1
  shift
  swiftc "${flags[@]}" -emit-library -static -module-name "$name" -emit-module -emit-module-path "$build/$name.swiftmodule" \
    -o "$build/lib$name.a" "$@"
}
library AuctionCore Sources/AuctionCore/*.swift
library AuctionProtocol -lAuctionCore Sources/AuctionProtocol/*.swift

targets=(ClientMessage Money ServerMessageGlance TenderDocument)
status=0
for target in "${targets[@]}"; do
  swiftc "${flags[@]}" -lAuctionProtocol -lAuctionCore "Tests/Fuzz/${target}Fuzz.swift" -o "$build/fuzz-$target"
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  seeds=("Tests/Fuzz/corpus/$target")
  [ "$target" = TenderDocument ] && seeds+=(Tests/AuctionCoreTests/Resources/seeds)
  log="$build/fuzz-$target.log"
  if ! "$build/fuzz-$target" "$corpus" "${seeds[@]}" -max_total_time="$seconds" -max_len=65536 \
      -artifact_prefix="$build/crashes/$target-" -print_final_stats=1 >"$log" 2>&1; then
    status=1
    echo "$target: CRASHED — see $log and $build/crashes/"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  echo "$target: $runs executions in ${seconds} s, $coverage, corpus $(ls "$corpus" | wc -l) inputs"
done
exit $status

#!/usr/bin/env bash
# Tests/Fuzz/run.sh [SECONDS] — `make fuzz`: builds each libFuzzer target (swiftc
# -sanitize=fuzzer,address, over static builds of the modules it reads) and runs it for SECONDS
# (default 60) from its seeds (corpus/TARGET, plus the API documents of the core's test resources
# for the tender decoder). Prints each target's executions and coverage; exits 1 if any crashed.
# A crashing input lands in .build/fuzz/crashes/: keep it in corpus/TARGET (every run replays
# the corpus first) and as a test of the normal suite, then fix it. Targets: the client message
# reader (fast path against JSONDecoder), the amount parser (round trip), the load generator's
# glance at server messages, the tender document decoder and the auction input built from it, the
# HTTP routes (paths, query, admin token), and Redis replies (hiredis's parser, the store's decoders).
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
# The HTTP routes: the request and response values of WebServer (no lws in them), the constant-time
# compare of CryptoPrimitives (OpenSSL), and the route files of AuctionServer compiled into the
# target itself (their types are internal).
library WebServer Sources/WebServer/HTTPMessages.swift
library CryptoPrimitives -I Sources/COpenSSL Sources/CryptoPrimitives/*.swift
routes=(HTTPRoutes APIError JSONResponse AuctionListCursor)
# The Redis replies: hiredis's parser (RedisClient) and the store's decoders (AuctionStore, built for
# testing: the decoders are internal).
mkdir -p "$build/CHiredisShims"
printf 'module CHiredisShims {\n  header "%s/Sources/CHiredisShims/include/CHiredisShims.h"\n  export *\n}\n' "$PWD" >"$build/CHiredisShims/module.modulemap"
clang -fsanitize=fuzzer-no-link,address -g -O1 -c Sources/CHiredisShims/shims.c -I Sources/CHiredisShims/include -o "$build/CHiredisShims.o"
library RedisClient -I Sources/CHiredis -I "$build/CHiredisShims" Sources/RedisClient/*.swift
library AuctionStore -enable-testing -I Sources/CHiredis -I "$build/CHiredisShims" -I Sources/COpenSSL -lRedisClient -lCryptoPrimitives \
  -lAuctionProtocol -lAuctionCore Sources/AuctionStore/*.swift

# sources TARGET — what a target is built from, besides its own file.
sources() {
  case $1 in
    HTTPRoute) printf 'Sources/AuctionServer/%s.swift\n' "${routes[@]}"; echo -I; echo Sources/COpenSSL; echo -lWebServer; echo -lCryptoPrimitives ;;
    RedisReply) printf '%s\n' -I Sources/CHiredis -I "$build/CHiredisShims" -I Sources/COpenSSL -lAuctionStore -lRedisClient -lCryptoPrimitives "$build/CHiredisShims.o" ;;
  esac
}

targets=(ClientMessage Money ServerMessageGlance TenderDocument HTTPRoute RedisReply)
status=0
for target in "${targets[@]}"; do
  mapfile -t extra < <(sources "$target")
  swiftc "${flags[@]}" "${extra[@]}" -lAuctionProtocol -lAuctionCore "Tests/Fuzz/${target}Fuzz.swift" -o "$build/fuzz-$target"
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

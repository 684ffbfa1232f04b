# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the build and the tests need (see docs/OPERATIONS.md).
DEB_PACKAGES := pkg-config libwebsockets-dev libev-dev libhiredis-dev libssl-dev redis-server curl python3
# Only the tests need these (make test): the browser tests' Chromium, lws's own test server and
# redis-benchmark (from redis-tools) as the load test's side-by-side references, and libfaketime
# (faketime) to run auctiond with a host clock that is off.
TEST_DEB_PACKAGES := chromium chromium-driver libwebsockets-test-server redis-tools faketime haproxy iproute2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help deps test-deps install-debs build release test demo clean format lint census chaos attack hosts sanitize fuzz

help:
	@echo "make demo   - build; run Redis, the tender sandbox and auctiond; simulated bidders run the demo auctions"
	@echo "make test   - run every test (Swift, the browser tests, the smoke, chaos-smoke, attack-smoke and hosts-smoke load tests)"
	@echo "make chaos  - the chaos load test: 50 auctiond and 10 Redis kill -9s under load (about 6 minutes)"
	@echo "make attack - honest bidders beside a 10,000-connection burst, flooders, silent readers, forged links (about 3 minutes)"
	@echo "make hosts  - two auctiond hosts (network namespaces, as root) behind HAProxy, one cut off mid-auction"
	@echo "make sanitize - the Swift tests under AddressSanitizer and ThreadSanitizer, auctiond included"
	@echo "make fuzz   - libFuzzer on the message, amount, tender, HTTP route and Redis reply decoders, FUZZ_SECONDS each (default 60)"
	@echo "make deps   - install the missing Debian packages"
	@echo "make format - format the Swift code (swift-format, .swift-format); make lint checks it, as make test does"

deps:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(DEB_PACKAGES)"

# Chromium and selenium (from PyPI) for the browser tests of Tests/Browser; kosoku (PyPI) runs the
# Autobahn WebSocket cases (Tests/Conformance).
test-deps: deps
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(TEST_DEB_PACKAGES)"
	@python3 -c "import selenium" 2>/dev/null || python3 -m pip install -q selenium
	@python3 -c "import kosoku" 2>/dev/null || python3 -m pip install -q kosoku

# Idempotent: installs only what dpkg does not list as installed.
install-debs:
	@missing=""; \
	for package in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	swift build

release: deps
	swift build -c release

# swift-format comes with the Swift toolchain; .swift-format holds the style.
SWIFT_CODE := Sources Tests Package.swift

format:
	swift-format format --in-place --recursive $(SWIFT_CODE)

lint:
	swift-format lint --strict --recursive $(SWIFT_CODE)

# The concurrency tools and long lines in Sources/ (docs/ARCHITECTURE.md reports them).
census:
	@.ci/census

test: test-deps lint
	swift build --build-tests
	swift test --disable-xctest
	python3 -m unittest discover -s Tests/Browser -v
	CONFIG=debug loadtest/run.sh smoke
	CONFIG=debug loadtest/run.sh chaos-smoke
	CONFIG=debug loadtest/run.sh attack-smoke
	CONFIG=debug loadtest/run.sh hosts-smoke
	$(MAKE) --no-print-directory sanitize SANITIZE_FILTER="$(SANITIZE_SHORT)"
	Tests/Fuzz/run.sh 5

# The Swift tests under AddressSanitizer and then ThreadSanitizer, each in a build of its own
# (.build/asan, .build/tsan); the tests start that build's auctiond, so the service runs sanitized
# too. Any report stops the process that made it (ASan always, TSan by halt_on_error), so a race
# or a memory error in auctiond fails its test as one in the tests does. Leaks are not checked:
# URLSession (FoundationNetworking) leaves libcurl's allocations behind at exit. make test runs
# the suites that cross into C (lws, hiredis, OpenSSL), the live ones and the loops; make sanitize
# runs them all (docs/RELIABILITY.md).
ASAN_ENV := SANITIZER=address ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0
TSAN_ENV := SANITIZER=thread TSAN_OPTIONS=halt_on_error=1
SANITIZE_SHORT := RedisConnectionTests|HMACSHA256Tests|ConstantTimeTests|WebServerWebSocketTests|WebServerHTTPTests|WebSocketClientPoolTests|ServiceLoopTests|CrashAndScaleTests|HostileClientTests|BadInputTests
SANITIZE_FILTER :=
sanitize: test-deps
	swift build --build-tests --sanitize=address --scratch-path .build/asan
	$(ASAN_ENV) swift test --skip-build --disable-xctest --sanitize=address --scratch-path .build/asan $(if $(SANITIZE_FILTER),--filter "$(SANITIZE_FILTER)")
	swift build --build-tests --sanitize=thread --scratch-path .build/tsan
	$(TSAN_ENV) swift test --skip-build --disable-xctest --sanitize=thread --scratch-path .build/tsan $(if $(SANITIZE_FILTER),--filter "$(SANITIZE_FILTER)")

# libFuzzer (swiftc -sanitize=fuzzer,address) on the decoders a client or the API feeds: the
# targets and their seeds are in Tests/Fuzz (docs/RELIABILITY.md). make test runs 5 s of each.
FUZZ_SECONDS := 60
fuzz: deps
	Tests/Fuzz/run.sh $(FUZZ_SECONDS)

# The long chaos suite (docs/RELIABILITY.md); make test runs its short variant.
chaos: test-deps
	loadtest/run.sh chaos

# Hostile clients beside honest bidders (docs/RELIABILITY.md); make test runs its short variant.
attack: test-deps
	loadtest/run.sh attack

# Two auctiond hosts in network namespaces behind HAProxy, one cut off mid-auction (as root;
# docs/SCALING.md); make test runs its short variant.
hosts: test-deps
	loadtest/run.sh hosts

demo: release
	loadtest/demo.sh

clean:
	rm -rf .build run

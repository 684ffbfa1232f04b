# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the build and the tests need (see docs/OPERATIONS.md).
DEB_PACKAGES := pkg-config libwebsockets-dev libev-dev libhiredis-dev libssl-dev redis-server curl python3
# Only the tests need these (make test): the browser tests' Chromium, lws's own test server and
# redis-benchmark (from redis-tools) as the load test's side-by-side references, and libfaketime
# (faketime) to run auctiond with a host clock that is off.
TEST_DEB_PACKAGES := chromium chromium-driver libwebsockets-test-server redis-tools faketime
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help deps test-deps install-debs build release test demo clean format lint census chaos

help:
	@echo "make demo   - build; run Redis, the tender sandbox and auctiond; simulated bidders run the demo auctions"
	@echo "make test   - run every test (Swift, the browser test, the smoke and chaos-smoke load tests)"
	@echo "make chaos  - the chaos load test: 50 auctiond and 10 Redis kill -9s under load (about 6 minutes)"
	@echo "make deps   - install the missing Debian packages"
	@echo "make format - format the Swift code (swift-format, .swift-format); make lint checks it, as make test does"

deps:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(DEB_PACKAGES)"

# Chromium and selenium (from PyPI) for the browser tests of Tests/Browser.
test-deps: deps
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(TEST_DEB_PACKAGES)"
	@python3 -c "import selenium" 2>/dev/null || python3 -m pip install -q selenium

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

# The long chaos suite (docs/RELIABILITY.md); make test runs its short variant.
chaos: test-deps
	loadtest/run.sh chaos

demo: release
	loadtest/demo.sh

clean:
	rm -rf .build run

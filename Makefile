# Menjin's build and test entry points. `make test` is the whole suite, the
# command CI runs; it installs the external peers the tests talk to.

GO       ?= go

.PHONY: test deps lint unit examples demo bench fuzz

test: deps lint unit fuzz examples

# deps installs, from Debian, the peers we did not write: python WebSocket and
# MQTT clients, sipp, baresip, mosquitto, openssl, curl.
deps:
	@missing=""; \
	/usr/bin/python3 -c 'import websockets' 2>/dev/null || missing="$$missing python3-websockets"; \
	/usr/bin/python3 -c 'import paho.mqtt.client' 2>/dev/null || missing="$$missing python3-paho-mqtt"; \
	command -v sipp >/dev/null        || missing="$$missing sip-tester"; \
	command -v baresip >/dev/null     || missing="$$missing baresip"; \
	command -v mosquitto >/dev/null   || missing="$$missing mosquitto"; \
	command -v mosquitto_pub >/dev/null || missing="$$missing mosquitto-clients"; \
	command -v openssl >/dev/null     || missing="$$missing openssl"; \
	command -v curl >/dev/null        || missing="$$missing curl"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The reconciler's scale tests run smaller under -race (testutil.RaceEnabled):
# the second line runs them at full size.
unit:
	CI=$${CI:-true} $(GO) test -race -count=1 -timeout 30m ./...
	CI=$${CI:-true} $(GO) test -count=1 -timeout 30m -run 'TestConvergence|TestFaultReconnectStorm' ./accessctl/reconcile

# examples runs the demo end to end, as the README's first command does,
# and the vendor-driver demo (a driver written on the public API only).
examples:
	$(GO) run ./examples/demo
	$(GO) run ./examples/vendordriver

demo:
	$(GO) run ./examples/demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# fuzz gives every fuzz target a short run: each target's seed corpus plus
# FUZZTIME of new inputs (FUZZTIME=30s for a longer hunt). Targets are found
# in the sources, so no test binary is built just to list them. A run that
# fails only because go test's fuzz deadline interrupted the minimisation of
# a new interesting input (no failing input written) is run once more.
FUZZTIME ?= 1s
fuzz:
	@set -e; n=0; start=$$(date +%s); \
	for f in $$(git grep -l '^func Fuzz' -- '*_test.go'); do \
		dir=./$$(dirname $$f); \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			n=$$((n+1)); \
			ok=0; for try in 1 2; do \
				if $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$dir >/tmp/menjin-fuzz.$$$$ 2>&1; then ok=1; break; fi; \
				grep -q 'Failing input written' /tmp/menjin-fuzz.$$$$ && break; \
				grep -q 'context deadline exceeded' /tmp/menjin-fuzz.$$$$ || break; \
				echo "fuzz: $$dir $$t: the fuzzer's own deadline cut a minimisation short (no failing input); once more"; \
			done; \
			[ $$ok = 1 ] || { cat /tmp/menjin-fuzz.$$$$; echo "fuzz: $$dir $$t failed"; rm -f /tmp/menjin-fuzz.$$$$; exit 1; }; \
		done; \
	done; rm -f /tmp/menjin-fuzz.$$$$; echo "fuzz: $$n targets, $(FUZZTIME) each, $$(( $$(date +%s) - start ))s"

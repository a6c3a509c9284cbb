# PIPPS-Swift. The two commands a user needs:
#   make demo   the main job
#   make test   every test
# Both install what is missing first (Debian packages through apt-get; idempotent and quiet when
# everything is there).

SWIFT ?= swift
# Repeatable numerics: OpenBLAS's thread count is pinned for tests and benchmarks.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: all deps build release tools demo test check-proto proto bench plot-env client-env clean

all: build

deps:
	@scripts/install-deps

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# protoc-gen-swift, built from the resolved swift-protobuf (for scripts/gen-proto and its test).
tools: deps
	@$(SWIFT) build --product protoc-gen-swift

# The main job: runtime + firmware-sim + scheduler learning the cart-pole swing-up (see README).
# `make demo DEMO_ARGS="--robot unicycle"` for the unicycle; the figure needs plot-env.
DEMO_ARGS ?=
demo: deps plot-env
	$(SWIFT) build -c release --product pipps
	$(SWIFT) build -c release --product firmware-sim
	.build/release/pipps demo $(DEMO_ARGS)

test: deps tools client-env
	$(SWIFT) build --build-tests
	PROTOC_GEN_SWIFT=$(CURDIR)/.build/debug/protoc-gen-swift $(SWIFT) test --skip-build

proto: deps tools
	scripts/gen-proto

check-proto: deps tools
	scripts/gen-proto --check

bench: release
	.build/release/pipps bench linalg
	.build/release/pipps bench zmq

# matplotlib in a virtual environment, for the figures of `pipps experiment ...`
# (scripts/plot_experiments.py). Made once; `make plot-env` again does nothing.
PYTHON ?= python3
plot-env: .venv-plot/.installed
.venv-plot/.installed: scripts/plot-requirements.txt
	$(PYTHON) -m venv .venv-plot
	.venv-plot/bin/pip install --quiet -r scripts/plot-requirements.txt
	touch $@

# pyzmq and protobuf for the Python reference robot client (deploy/reference-client), which an
# integration test runs against `pipps serve`.
client-env: .venv-client/.installed
.venv-client/.installed: deploy/reference-client/requirements.txt
	$(PYTHON) -m venv .venv-client
	.venv-client/bin/pip install --quiet -r deploy/reference-client/requirements.txt
	touch $@

clean:
	rm -rf .build

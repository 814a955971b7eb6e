# sdnlab: `make demo` and `make test` are the two commands a new user needs.
# Both run `make setup` first, which installs only what is missing.

VENV := .venv
PY := $(VENV)/bin/python
SDNLAB := $(VENV)/bin/sdnlab
PYTEST_ARGS ?=

.PHONY: setup demo test unit check bench clean help image server-image screenshots

help:
	@echo "make demo   - set up what is missing, run the default lab end to end, print its grade"
	@echo "make test   - set up what is missing, run the whole test suite"
	@echo "make check  - lint (ruff), format check and type check (mypy)"
	@echo "make bench  - run the benchmarks, JSON results in bench/results/"
	@echo "make clean  - remove everything any sdnlab lab left behind"
	@echo "make image  - build the lab-sandbox container image (mmdebstrap + buildah, about 5 min)"
	@echo "make server-image - build the classroom server image for Kubernetes (with Chromium for PDFs)"
	@echo "make screenshots - refresh docs/img/ from the browser tests"

setup:
	@tools/setup.sh

demo: setup
	$(SDNLAB) demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

check: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	tools/typecheck.sh

bench: setup
	$(PY) -m bench.run

# refresh docs/img/ from the browser tests (a normal test run saves them to build/screenshots/)
screenshots: setup
	SDNLAB_SCREENSHOTS=$(CURDIR)/docs/img $(PY) -m pytest -q tests/integration/classroom -k "browser or firefox"

# the lab-sandbox OCI image from Debian packages and this tree (size in build/image/image.json)
image: setup
	tools/image/build.sh

# the classroom server's OCI image for Kubernetes: sdnlab, the kubernetes client, headless Chromium
server-image: setup
	tools/image/build.sh --server

clean:
	-$(SDNLAB) clean

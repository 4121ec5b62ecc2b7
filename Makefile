# pelastus-hub tasks. `make help` lists them. Every target sets up what it needs:
# a virtual environment in .venv with the project and its test tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help run test lint wheel-check bench soak kafka-start kafka-stop kafka-status clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "java not found: install a JDK 17 or newer (Debian: openjdk-17-jre-headless)"; exit 1; }
	@command -v mvn >/dev/null || { echo "mvn not found: install Maven (Debian: maven)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint,operator]'
	touch $(STAMP)

run: $(STAMP) ## the demo: local Kafka, the hub worker and simulated departments (Ctrl-C stops; ARGS="--duration 60")
	$(BIN)/pelastus-hub run $(ARGS)

# The page test drives Debian's Chromium; installed here where it is missing (as root).
BROWSER := $(VENV)/.browser
$(BROWSER): $(STAMP)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ apt-get install -y -qq --no-install-recommends chromium >/dev/null || \
		  { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; }; } || \
		{ echo "chromium not found: install Debian's chromium package"; exit 1; }
	touch $@

test: $(STAMP) $(BROWSER) ## all tests: unit tests, integration tests against a real local Kafka, the page in Chromium
	@# pytest exits 5 when it collected no tests: that is a failure too.
	$(BIN)/pytest $(ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi; exit $$status

lint: $(STAMP) ## ruff, the schema and Strimzi file checks, promtool on the Prometheus config and alert tests
	$(BIN)/ruff check hub tests deploy
	$(BIN)/ruff format --check hub tests deploy
	$(BIN)/pelastus-hub schemas check
	$(BIN)/pelastus-hub schemas docs --check
	$(BIN)/pelastus-hub kubernetes strimzi --check
	@# promtool 2.42 from Debian's prometheus package, fetched once (deploy/prometheus/promtool.py).
	$(BIN)/python deploy/prometheus/promtool.py check config deploy/prometheus/prometheus.yml
	$(BIN)/python deploy/prometheus/promtool.py test rules deploy/prometheus/alerts.test.yml

wheel-check: $(STAMP) ## build the wheel, install it in a fresh venv outside the repository, try it there
	PYTHON=$(PYTHON) deploy/wheel-check.sh

bench: $(STAMP) ## throughput and latency against reference pipelines (ARGS="--messages 200000")
	$(BIN)/pelastus-hub bench $(ARGS)

SOAK_SECONDS ?= 600
SOAK_EVERY ?= 30
soak: $(STAMP) ## the demo's traffic for SOAK_SECONDS (600): worker memory, lag, outcomes every SOAK_EVERY (30) s
	$(BIN)/pelastus-hub run --duration $(SOAK_SECONDS) --status-every $(SOAK_EVERY) $(ARGS)

kafka-start: $(STAMP) ## start a local Kafka broker in the background
	$(BIN)/pelastus-hub kafka start

kafka-stop: $(STAMP) ## stop it
	$(BIN)/pelastus-hub kafka stop

kafka-status: $(STAMP) ## is it running?
	$(BIN)/pelastus-hub kafka status

clean: ## remove the virtual environment and run files (keeps the Kafka jar cache)
	rm -rf $(VENV) .run .pytest_cache

# gridint: the two commands are `make run` and `make test`; both install into .venv first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
FEEDER ?= xt-county-rural
# pytest workers: 2 cores on the reference machine
PYTEST_WORKERS ?= 2

.PHONY: install run test bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

## run: one-year power flow and hosting capacity of the default Xiangtan feeder, readable summary,
## then the web pages (address and a demo sign-in token per role printed; Ctrl-C stops)
run: $(STAMP)
	$(VENV)/bin/gridint feeders
	@echo
	$(VENV)/bin/gridint powerflow $(FEEDER) --year
	@echo
	$(VENV)/bin/gridint hosting-capacity $(FEEDER)
	@echo
	$(VENV)/bin/gridint serve --demo

## test: the whole suite (pytest exit code 5 = no tests collected is not a failure); the
## PostgreSQL server the store tests start is installed first if missing
test: $(STAMP)
	@bash scripts/install-test-services.sh
	@$(PY) -m pytest -n $(PYTEST_WORKERS) -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

## bench: the benchmarks of sims/ (results go to sims/RESULTS.md)
bench: $(STAMP)
	$(PY) -m sims.bench_powerflow --out
	$(PY) -m sims.bench_pvfleet --out
	$(PY) -m sims.backtest_forecast --out
	$(PY) -m sims.bench_hosting --out
	$(PY) -m sims.bench_reliability --out
	$(PY) -m sims.bench_dispatch --out
	$(PY) -m sims.bench_api --out
	$(PY) -m sims.telemetry_sim --out
	$(PY) -m sims.bench_telemetry_storage --out
	$(PY) -m sims.bench_loop --out
	$(PY) -m sims.bench_city --out

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

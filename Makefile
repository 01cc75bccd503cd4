# Two set-up commands: `make demo` and `make test`. Both build .venv from nothing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo-out

.PHONY: demo test lint typecheck clean install system-deps

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/ashiato demo --out $(DEMO)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The report tests render HTML in Debian's Chromium and PDF pages with pdftoppm (poppler-utils);
# WeasyPrint (PDF) warns without HarfBuzz's subsetting library, and tests make warnings errors.
system-deps:
	@command -v chromium >/dev/null && command -v pdftoppm >/dev/null && \
	  ldconfig -p | grep -q libharfbuzz-subset || { \
	  echo "installing Debian's chromium, poppler-utils and HarfBuzz for the report tests"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium poppler-utils \
	    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 >/dev/null; }

test: $(STAMP) system-deps lint typecheck
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache

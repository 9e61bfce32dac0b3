# Rapport: `make run` starts the whole product, `make test` runs every test.
# Both set up their own Python environment on first use (in .venv/, with uv).

PYTHON ?= $(shell command -v python3.13 2>/dev/null || command -v python3)
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin

export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint format clean

$(UV):
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 13), f"Rapport needs Python 3.13, found {sys.version.split()[0]} at {sys.executable}"'
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

# The chart library (Chart.js), from the npm registry at the version and hash
# package-lock.json pins, copied into the static files Rapport serves itself.
CHART_JS := static/vendor/chart.umd.min.js

$(CHART_JS): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Rapport needs npm (Node.js) to fetch its chart library: apt-get install npm"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --silent
	mkdir -p $(@D)
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/LICENSE.md $(@D)/

run: $(VENV)/.synced $(CHART_JS)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "  Rapport is starting at http://127.0.0.1:8000/  (Ctrl-C stops web, worker and beat)"
	@echo "  Demo logins, password rapport-demo for each (demo data only):"
	@echo "    Summit Physical Therapy: summit.frontdesk, summit.therapist, summit.liaison, summit.admin"
	@echo "    Harbor Rehab:            harbor.admin"
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile

test: $(VENV)/.synced $(CHART_JS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=config.settings.test
	$(BIN)/mypy
	$(BIN)/pytest --numprocesses=auto --maxprocesses=4 --dist=loadfile

lint format: $(VENV)/.synced
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf .tools $(VENV) var node_modules static/vendor

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo cjk-font test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[demo]"
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

demo: $(VENV)/.demo cjk-font
	$(BIN)/rnnlab demo

# Chinese labels need a CJK font from the system: Debian's fonts-wqy-microhei is installed when run as
# root with apt-get, suggested otherwise
cjk-font: $(VENV)/.demo
	@$(BIN)/python -c "from rnnlab.plots import fonts; raise SystemExit(fonts.cjk_font() is None)" \
	|| if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei; } \
		|| echo "fonts-wqy-microhei could not be installed: Chinese labels will show as boxes" >&2; \
	else \
		echo "no CJK font: Chinese labels will show as boxes; $$($(BIN)/python -c \
		'from rnnlab.plots import fonts; print(fonts.INSTALL_HINT)')" >&2; \
	fi

# pytest-xdist: one worker per core, at most four; most of a first run is numba compiling the kernels,
# one process on one core at a time, and each worker then loads what another has compiled from the cache
test: $(VENV)/.test
	$(BIN)/python -m pytest --numprocesses auto --maxprocesses 4

# ruff's rules are in pyproject.toml ([tool.ruff]); the notebook is generated from docs/tutorial.py
LINTED := src tests benchmarks docs/tutorial.py docs/render_tutorial.py
lint: $(VENV)/.test
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

bench: $(VENV)/.test
	$(BIN)/python benchmarks/speed.py

clean:
	rm -rf $(VENV) build src/*.egg-info

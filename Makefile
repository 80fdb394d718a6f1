# Two entry points: `make run` (set up and open the app on the bundled model) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean install-desktop uninstall-desktop

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip >/dev/null
	# torch is pinned to the CPU build first, so nothing pulls a CUDA build.
	$(BIN)/pip install "torch==2.13.0"
	$(BIN)/pip install -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/face-explorer

# The launcher entry, icon and model-file type for this user (under $XDG_DATA_HOME or ~/.local/share).
install-desktop: $(STAMP)
	$(BIN)/face-explorer --install-desktop

uninstall-desktop: $(STAMP)
	$(BIN)/face-explorer --uninstall-desktop

test: $(STAMP)
	$(BIN)/ruff check facegan explorer trainer evaluation tests benchmarks tools
	$(BIN)/lint-imports
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check facegan explorer trainer evaluation tests benchmarks tools
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/render_latency.py
	$(BIN)/python benchmarks/slider_latency.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/scatter_map.py
	$(BIN)/python benchmarks/embedding.py --skip-sklearn
	$(BIN)/python benchmarks/photo_drop.py
	$(BIN)/python benchmarks/gif_export.py
	$(BIN)/python benchmarks/train_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

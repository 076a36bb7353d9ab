# FaceLens: `make run` opens the app on the embedded demo session, `make test` runs every test.
# Both create .venv with the machine's python3 when it is missing and install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.facelens-installed
XVFB_PACKAGES := xvfb xauth libgl1 libgl1-mesa-dri libegl1 libegl-mesa0 libxkbcommon-x11-0 \
	libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
	libxcb-shape0 libxcb-xkb1 libfontconfig1 libdbus-1-3 poppler-utils

.PHONY: run test setup models system-deps lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip >/dev/null
	$(BIN)/python -m pip install -e '.[dev]'
	@touch $@

setup: $(STAMP) models

models: $(STAMP)
	$(BIN)/facelens models fetch

# Display and PDF tools for the GUI tests and the report checks (Debian; needs root).
system-deps:
	@if ! command -v xvfb-run >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1 \
	   || ! ldconfig -p | grep -q libxcb-cursor.so.0; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(XVFB_PACKAGES); \
	  else echo "Please install: $(XVFB_PACKAGES)"; exit 1; fi; \
	fi

# With a display: the app on the demo session. Without one (a server, CI): the demo's analysis summary
# and a screenshot of the app rendered on a virtual screen, so the main job still shows its result.
run: setup system-deps
	@if [ -n "$$DISPLAY" ] || [ -n "$$WAYLAND_DISPLAY" ]; then $(BIN)/facelens gui --demo; \
	 else $(BIN)/facelens demo && \
	   xvfb-run -a -s "-screen 0 1920x1080x24" $(BIN)/facelens gui --demo --screenshot demo-screenshot.png --at 12 && \
	   echo "No display here: saved a screenshot of the app on the demo session to demo-screenshot.png"; fi

lint: $(STAMP)
	$(BIN)/lint-imports

test: setup system-deps lint
	xvfb-run -a -s "-screen 0 1600x1000x24 -nolisten tcp" $(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

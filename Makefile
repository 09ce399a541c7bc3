# Two commands on a fresh machine with Python 3.11+:  `make demo`  and  `make test`.
# Both create (or reuse) .venv and install what they need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Every package of the monorepo, installed editable.
PACKAGES := packages/core packages/torch-manual packages/artifacts packages/hf packages/vlm-metrics \
            packages/sweeps packages/gradio-embed packages/lightning
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean

# pip's output (setuptools prints a warning box per editable package) goes to a log that is
# shown only when the install fails, so a newcomer's first screen is the demo.
INSTALL_LOG := $(VENV)/install.log
QUIET_PIP = > $(INSTALL_LOG) 2>&1 || { cat $(INSTALL_LOG); echo "make: installing into $(VENV) failed; pip's output is above and in $(INSTALL_LOG)" >&2; exit 1; }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip $(QUIET_PIP)

$(STAMP): $(BIN)/python $(foreach p,$(PACKAGES),$(p)/pyproject.toml) constraints/test.txt requirements-dev.txt
	@echo "installing wandbkit's packages into $(VENV) (pip's log: $(INSTALL_LOG))"
	@$(BIN)/python -m pip install --quiet -c constraints/test.txt \
		$(foreach p,$(PACKAGES),-e $(p)) -r requirements-dev.txt $(QUIET_PIP)
	@touch $(STAMP)

install: $(STAMP)

# The main job, offline on embedded defaults: every installed plugin's stage of the tour (the
# toy ARR-COC model smoke-tested and trained with the tracker, VLM metrics and checkpoints, a
# local sweep, a preempted job resumed, an HF fine-tune, the dashboard serving it all), then a
# summary with the command that opens the dashboard.
demo: install
	WANDB_MODE=offline $(BIN)/wandbkit demo

test: install
	$(BIN)/ruff check packages tests benchmarks examples
	WANDB_MODE=offline HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) wandbkit-runs

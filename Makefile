# RoadLite: the pipeline. Every chapter is a file target, rebuilt only when its notebook, the
# profile's parameters, an upstream chapter or lib/ changed.
#
#   make book                 set-up, every chapter of the default profile, the HTML book
#   make test                 set-up, lint, unit tests, the smoke chain, the book build
#   make 03_eca               one chapter (and what it needs) for PROFILE (default: default)
#   make nb NB=03_eca EPOCHS=5   rerun one chapter now, with parameter overrides
#   make bench                benchmarks (generator, training loop vs bare model)
#   make book PROFILE=paper   the full-scale profile (needs a GPU and a real dataset)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := book
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.roadlite-setup
PROFILE ?= default
ARTIFACTS ?= artifacts
BUILD ?= .
# Command-line variables other than these are parameter overrides (EPOCHS=5 -> epochs=5).
OVERRIDES := $(filter-out PROFILE=% ARTIFACTS=% NB=% BUILD=% PYTHON=%,$(MAKEOVERRIDES))
export ROADLITE_ARTIFACTS := $(ARTIFACTS)
export PYTHONHASHSEED := 0
export HF_HUB_OFFLINE := 1
export MPLBACKEND := module://matplotlib_inline.backend_inline

CHAPTERS := 01_dataset 02_gan 03_eca 04_refinement 05_distillation 06_pruning 07_quantization \
	08_benchmark 09_confusion
LIB := $(shell find lib -name '*.py' 2>/dev/null) pyproject.toml
A := $(ARTIFACTS)/$(PROFILE)
NBOUT = $(A)/$(1)/$(1).ipynb
# Overrides are a dependency too: a run with other overrides than the last one reruns the chapters.
OVR := $(A)/.overrides
$(shell mkdir -p $(A) && { echo '$(OVERRIDES)' | cmp -s - $(OVR) || echo '$(OVERRIDES)' > $(OVR); })
RUN = $(PY) -m roadlite.pipeline run $(1) --profile $(PROFILE) --artifacts $(ARTIFACTS) $(OVERRIDES)

.PHONY: setup book chapters test lint unit smoke nb bench clean $(CHAPTERS)

# ---- environment -------------------------------------------------------------------------
setup: $(STAMP)
$(STAMP): requirements/lock.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23.2"
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -r requirements/lock.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m pip check
	@touch $@

# ---- chapters (file targets) -------------------------------------------------------------
# Each chapter: its notebook, the profile, the overrides, lib/ and the chapters it reads.
$(foreach c,$(CHAPTERS),$(eval $(call NBOUT,$(c)): notebooks/$(c).ipynb params/$(PROFILE).yaml $(OVR) $(LIB) | $(STAMP)))
$(foreach c,$(CHAPTERS),$(call NBOUT,$(c))):
	$(call RUN,$(basename $(notdir $@)))
$(call NBOUT,02_gan): $(call NBOUT,01_dataset)
# Chapters 03-06 read chapter 02 only with TRAIN_DATA=gan (an override, so a rerun follows):
# order-only, so that a new GAN does not retrain the original-data chain.
$(call NBOUT,03_eca): $(call NBOUT,01_dataset) | $(call NBOUT,02_gan)
$(call NBOUT,04_refinement): $(call NBOUT,01_dataset) $(call NBOUT,03_eca)
$(call NBOUT,05_distillation): $(call NBOUT,01_dataset) $(call NBOUT,04_refinement)
$(call NBOUT,06_pruning): $(call NBOUT,01_dataset) $(call NBOUT,05_distillation)
$(call NBOUT,07_quantization): $(call NBOUT,01_dataset) $(call NBOUT,03_eca) $(call NBOUT,04_refinement) \
	$(call NBOUT,05_distillation) $(call NBOUT,06_pruning)
$(call NBOUT,08_benchmark): $(call NBOUT,07_quantization)
$(call NBOUT,09_confusion): $(call NBOUT,07_quantization) $(call NBOUT,08_benchmark)

$(foreach c,$(CHAPTERS),$(eval $(c): $(call NBOUT,$(c))))
chapters: $(foreach c,$(CHAPTERS),$(call NBOUT,$(c)))

nb: | $(STAMP)
	@test -n "$(NB)" || { echo "usage: make nb NB=03_eca [NAME=value ...]"; exit 2; }
	$(call RUN,$(NB))

# ---- the book ----------------------------------------------------------------------------
book: chapters | $(STAMP)
	$(PY) -m roadlite.pipeline stage-book --profile $(PROFILE) --artifacts $(ARTIFACTS)
	$(VENV)/bin/jupyter-book build . --path-output $(BUILD) -W -n --keep-going
	@echo "book: $(BUILD)/_build/html/index.html"

# ---- checks ------------------------------------------------------------------------------
lint: | $(STAMP)
	$(VENV)/bin/ruff check .

unit: | $(STAMP)
	$(PY) -m pytest -q -ra tests

# The whole chain on the smoke profile into a temporary artifacts folder, then the book.
smoke: | $(STAMP)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(MAKE) --no-print-directory book PROFILE=smoke ARTIFACTS=$$tmp/artifacts BUILD=$$tmp/build; \
	test -s $$tmp/build/_build/html/index.html && test -s $$tmp/build/_build/html/book/_chapters/results.html

test: lint unit smoke

bench: | $(STAMP)
	$(PY) -m roadlite.bench

clean:
	rm -rf $(BUILD) book/_chapters

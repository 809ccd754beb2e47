# RoadLite: the pipeline. Every chapter is a file target, rebuilt only when its notebook, the
# profile's parameters, the overrides, an upstream chapter or a lib/ module its run imports
# changed.
#
#   make book                 set-up, every chapter of the default profile, the HTML book
#   make test                 set-up, lint, unit tests, the smoke chain, the book build
#   make 03_eca               one chapter (and what it needs) for PROFILE (default: default)
#   make nb NB=03_eca EPOCHS=5   rerun one chapter now, with parameter overrides
#   make bench                benchmarks (generator, training loop vs bare model)
#   make book PROFILE=paper   the full-scale profile (needs a GPU and a real dataset)
#   make book SEEDS=3         also rerun the seeded chapters (03-07) with seeds 1 and 2; chapter
#                             09 shows mean ± std over the seeds

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
# make would expand a command-line value as make code wherever it is used ('CROP=$(shell ...)'
# would run the command): each command-line variable becomes a simple variable holding its text
# as typed, exported as such.
CMDLINE_NAMES := $(strip $(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(v))))
$(foreach v,$(CMDLINE_NAMES),$(eval override $(v) := $$(value $(v))))
export $(CMDLINE_NAMES)
# Command-line variables other than these are parameter overrides (EPOCHS=5 -> epochs=5). The
# pipeline reads their values from the environment (--from-env NAME ...): values with quotes,
# spaces or $ arrive intact.
NOT_OVERRIDES := PROFILE ARTIFACTS NB BUILD PYTHON SEEDS
OVERRIDE_NAMES := $(filter-out $(NOT_OVERRIDES),$(CMDLINE_NAMES))
# Shell quoting for a path or value that may hold an apostrophe.
q = '$(subst ','\'',$(1))'
# A path as a make target or prerequisite: a space escaped (make splits words at spaces).
space := $(subst ,, )
esc = $(subst $(space),\$(space),$(1))
# Characters that no make target can hold.
unsafe = $(strip $(foreach c,$$ : \# % ;,$(findstring $(c),$(1))))
ifneq ($(call unsafe,$(ARTIFACTS)),)
$(error ARTIFACTS=$(ARTIFACTS): make cannot name files under a folder whose path holds '$(call unsafe,$(ARTIFACTS))'; choose another folder)
endif
ifneq ($(words $(PROFILE))$(findstring /,$(PROFILE))$(call unsafe,$(PROFILE)),1)
$(error PROFILE=$(PROFILE): expected the name of a profile (params/NAME.yaml))
endif
export ROADLITE_ARTIFACTS := $(ARTIFACTS)
export PYTHONHASHSEED := 0
export HF_HUB_OFFLINE := 1
export MPLBACKEND := module://matplotlib_inline.backend_inline

# The chapters and their graph come from the book's table (lib/roadlite/book.py): CHAPTERS, one
# "chapter: the chapters it reads" line each, and SOURCES_<chapter>, the files of lib/ that its
# run imports (its notebook's roadlite imports and the runner's, with their import closure,
# computed from the code). make remakes the file when lib/, a notebook or this file changes
# (book.py needs only the standard library: this works before the environment is installed).
CHAPTERS_MK := .chapters.mk
LIB_FILES := $(shell find lib -type f -not -path '*/__pycache__/*' 2>/dev/null)
$(CHAPTERS_MK): Makefile $(LIB_FILES) $(wildcard notebooks/*.ipynb)
	PYTHONPATH=lib $(PYTHON) -m roadlite.book makefile > $@.tmp && mv $@.tmp $@
# The profile's file and those it extends (`extends: NAME` in params/*.yaml, at most 8 deep).
profile_files = params/$(1).yaml $(if $(word 8,$(2)),,$(foreach p,$(shell sed -n \
	's/^extends:[[:space:]]*\([A-Za-z0-9][A-Za-z0-9_.-]*\).*/\1/p' params/$(1).yaml 2>/dev/null),\
	$(call profile_files,$(p),$(2) x)))
PROFILE_FILES := $(call profile_files,$(PROFILE))
# A profile is a plain name (roadlite.params.schema.PROFILE_NAME), never a path out of ARTIFACTS.
ifeq ($(shell printf '%s' $(call q,$(PROFILE)) | grep -Ex '[A-Za-z0-9][A-Za-z0-9_.-]{0,99}'),)
$(error PROFILE=$(PROFILE): a profile is a plain name, letters, digits, '_', '-' and '.', not starting with '.': params/<name>.yaml)
endif
# The profile's folder: A_PATH as text (recipes, $(file), $(shell)), A as make names it.
A_PATH := $(ARTIFACTS)/$(PROFILE)
A := $(call esc,$(A_PATH))
NBOUT = $(A)/$(1)/$(1).ipynb
# A seed run (make book SEEDS=N: seeds 1..N-1 beside the main run's seed 0) keeps its seeded
# chapters in $(A)/seeds/<seed>/ and reads the others from the main run.
SNBOUT = $(A)/seeds/$(1)/$(2)/$(2).ipynb
SEEDS ?= 1
ifeq ($(filter $(SEEDS),1 2 3 4 5 6 7 8 9 10),)
$(error SEEDS=$(SEEDS): expected a number of seeds from 1 to 10)
endif
ifneq ($(SEEDS),1)
ifneq ($(filter SEED,$(OVERRIDE_NAMES)),)
$(error SEED and SEEDS together: a SEEDS run uses seeds 0..SEEDS-1)
endif
endif
SEED_LIST := $(wordlist 2,$(SEEDS),0 1 2 3 4 5 6 7 8 9)
include $(CHAPTERS_MK)
# Overrides are a dependency too: a run with other overrides than the last one reruns the chapters.
OVR := $(A)/.overrides
OVR_TEXT := $(foreach v,$(OVERRIDE_NAMES),$(v)=$($(v)))
$(shell mkdir -p $(call q,$(A_PATH)))
ifeq ($(shell test -e $(call q,$(A_PATH)/.overrides) || echo missing),missing)
$(file >$(A_PATH)/.overrides,$(OVR_TEXT))
else ifneq ($(file <$(A_PATH)/.overrides),$(OVR_TEXT))
$(file >$(A_PATH)/.overrides,$(OVR_TEXT))
endif
# One chapter now (make nb): an override the chapter lacks is an error. Chapter targets (and the
# book) pass every override to every chapter, which uses the ones it has.
RUN = $(PY) -m roadlite.pipeline run $(1) --profile $(PROFILE) --artifacts "$$ROADLITE_ARTIFACTS" \
	$(if $(OVERRIDE_NAMES),--from-env $(OVERRIDE_NAMES)) $(2)
# The words a chapter gets besides the overrides: the number of seeds for chapter 09.
EXTRA = $(if $(filter $(1),$(READS_SEEDS)),seeds=$(SEEDS))
# The number of seeds is a dependency of the chapters that read the seed runs only.
SEEDS_FILE := $(A)/.seeds
ifneq ($(file <$(A_PATH)/.seeds),$(SEEDS))
$(file >$(A_PATH)/.seeds,$(SEEDS))
endif

.PHONY: setup book chapters test lint unit smoke nb bench clean data lab exercises params-cells times $(CHAPTERS)

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
# Each chapter: its notebook, the profile, the overrides, the lib/ files its run imports and the
# chapters it reads. ($@ may hold a space: its chapter is the last word's file name.)
CHAPTER_OF = $(basename $(notdir $(lastword $@)))
$(foreach c,$(CHAPTERS),$(eval $(call NBOUT,$(c)): notebooks/$(c).ipynb $(PROFILE_FILES) $(OVR) $(SOURCES_$(c)) | $(STAMP)))
$(foreach c,$(CHAPTERS),$(call NBOUT,$(c))):
	$(call RUN,$(CHAPTER_OF) $(call EXTRA,$(CHAPTER_OF)),--other-chapters-ok)
$(foreach c,$(CHAPTERS),$(eval $(c): $(call NBOUT,$(c))))
chapters: $(foreach c,$(CHAPTERS),$(call NBOUT,$(c)))

# The seed runs: every seeded chapter once per extra seed, with the same graph; chapter 09 reads
# them all.
define SEED_RULE
$(call SNBOUT,$(1),$(2)): notebooks/$(2).ipynb $(PROFILE_FILES) $(OVR) $(SOURCES_$(2)) | $(STAMP)
	$$(call RUN,$(2) seed=$(1) seed_run=true,--other-chapters-ok)
endef
$(foreach k,$(SEED_LIST),$(eval $(call SEED_GRAPH,$(k)))$(foreach c,$(SEEDED),$(eval $(call SEED_RULE,$(k),$(c)))))
$(foreach c,$(READS_SEEDS),$(eval $(call NBOUT,$(c)): $(SEEDS_FILE) $(foreach k,$(SEED_LIST),$(foreach s,$(SEEDED),$(call SNBOUT,$(k),$(s))))))

nb: | $(STAMP)
	@test -n $(call q,$(NB)) || { echo "usage: make nb NB=03_eca [NAME=value ...]"; exit 2; }
	$(call RUN,$(call q,$(NB)) $(call EXTRA,$(NB)))

# ---- the book ----------------------------------------------------------------------------
book: chapters | $(STAMP)
	$(PY) -m roadlite.pipeline stage-book --profile $(PROFILE) --artifacts "$$ROADLITE_ARTIFACTS"
	$(VENV)/bin/jupyter-book build . --path-output $(call q,$(BUILD)) -W -n --keep-going
	@echo "book: $(BUILD)/_build/html/index.html"

# ---- checks ------------------------------------------------------------------------------
# ruff, and the package's layers (import-linter contracts in pyproject.toml).
lint: | $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

unit: | $(STAMP)
	$(PY) -m pytest -q -ra tests

# The whole chain on the smoke profile into a temporary artifacts folder, with a second seed
# of the seeded chapters, then the book; then the tests that read its output
# (tests/test_smoke_book.py: the book and the results page built, chapter 09's mean ± std over
# the two seeds, every chapter with exercises showing them boxed with the solution folded).
smoke: | $(STAMP)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(MAKE) --no-print-directory book PROFILE=smoke SEEDS=2 ARTIFACTS=$$tmp/artifacts BUILD=$$tmp/build; \
	ROADLITE_SMOKE_DIR=$$tmp $(PY) -m pytest -q -ra -p no:cacheprovider tests/test_smoke_book.py

test: lint unit smoke

bench: | $(STAMP)
	$(PY) -m roadlite.training_speed

clean:
	rm -rf $(BUILD) book/_chapters

# ---- classroom edition -------------------------------------------------------------------
# make exercises: the student edition exercises/NN_slug.ipynb, derived from the chapter notebooks
# (solution regions replaced by stubs; tests/test_student_edition.py fails when it is stale).
exercises: | $(STAMP)
	$(PY) -m roadlite.student_edition write

# make params-cells: every chapter notebook's parameters cell from params/default.yaml
# (python -m roadlite.params cells; tests/test_params_cells.py fails when one is stale), then
# the student edition, whose parameters cells are classroom.yaml's.
params-cells: | $(STAMP)
	$(PY) -m roadlite.params cells
	$(PY) -m roadlite.student_edition write

# make times: the teacher's guide's table of time per chapter (smoke, classroom, default), read
# from $(ARTIFACTS)/<profile>/<chapter>/run.json into book/chapter_times.md.
times: | $(STAMP)
	$(PY) -m roadlite.timings --artifacts "$$ROADLITE_ARTIFACTS" --output book/chapter_times.md

# ---- real data, JupyterLab ----------------------------------------------------------------
# make data: every data set with known checksums (the MobiLiteNet demo set, DeepCrack, CFD, the
# Özgenel subset) into data/<name>, checked file by file; needs internet (roadlite download
# --list: the others).
data: | $(STAMP)
	$(PY) -m roadlite.cli download --all data

# make lab: JupyterLab on the repository, with the package finding this checkout.
lab: | $(STAMP)
	ROADLITE_ROOT="$(CURDIR)" $(VENV)/bin/jupyter lab

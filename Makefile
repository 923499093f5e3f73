# Two commands on a fresh machine: `make run` and `make test`. Both create the
# virtual environment on first use; everything runs offline on the bundled model
# and corpus.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= build
# Offline install: `make setup WHEELHOUSE=wheelhouse` installs from the wheels that `make wheelhouse`
# collected, with no index; unset, setup installs from the package indexes as always.
WHEELHOUSE ?=
PIP_INSTALL = $(PY) -m pip install --quiet$(if $(WHEELHOUSE), --no-index --find-links $(WHEELHOUSE))
WHEELS = $(or $(WHEELHOUSE),wheelhouse)

# Quiet, offline and reproducible for headless runs; notebooks opened in
# JupyterLab keep their progress bars.
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TQDM_DISABLE ?= 1
export HF_HUB_DISABLE_PROGRESS_BARS ?= 1
export HF_DATASETS_DISABLE_PROGRESS_BARS ?= 1
export HF_HUB_VERBOSITY ?= error
export TRANSFORMERS_VERBOSITY ?= error
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup run test format experiments budget bench lab notebooks clean pin colab-check site site-check wheelhouse wheelhouse-check doctor

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) -r requirements.txt
	$(PIP_INSTALL) --no-deps -e .
	$(PY) -c "from st_cookbook import register_bundled_model; register_bundled_model()"
	touch $(STAMP)

## Execute every notebook headlessly; executed copies and results go to $(OUT)/.
run: $(STAMP)
	$(PY) scripts/run_notebooks.py --out $(OUT)

## Lint and format check, then the unit tests and every notebook validated by nbval, two at a time.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

## Fix what the linter can and format the Python files and notebooks (ruff; settings in pyproject.toml).
format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Re-execute the notebooks in place so their committed outputs are real.
notebooks: $(STAMP)
	$(PY) scripts/run_notebooks.py --out $(OUT) --in-place

## Point every Colab badge, link and setup-cell install at [tool.st-cookbook] in pyproject.toml (repository, ref).
pin: $(STAMP)
	$(PY) scripts/pin_colab.py

## A Colab-like runtime (torch 2.13 with older transformers, sentence-transformers and datasets already
## installed), then notebook 00's own setup cell installing the cookbook from a clone of HEAD (not part of CI).
colab-check: $(STAMP)
	$(PY) scripts/colab_check.py

## The multi-seed studies behind the notebooks' conclusions (not part of CI; 2 worker processes on a CPU).
## Resumable; results/<study>.csv and .png. EXPERIMENTS_SCALE=8 runs experiments.py's 8x bigger into results/scale-8/.
experiments: $(STAMP)
	$(PY) scripts/experiments.py
	$(PY) scripts/forgetting_study.py
	$(PY) scripts/queries_documents_study.py
	$(PY) scripts/rerank_study.py

## The study behind the recipes' default budget (results/recipe_budget.csv; not part of CI, resumable).
budget: $(STAMP)
	$(PY) scripts/recipe_budget.py

## STS Benchmark: the labeled-pairs recipe vs a plain Trainer script (not part of CI).
bench: $(STAMP)
	$(PY) scripts/bench_stsb.py

## JupyterLab, with progress bars and Trainer logging back on (still offline).
lab: $(STAMP)
	env -u TQDM_DISABLE -u HF_HUB_DISABLE_PROGRESS_BARS -u HF_DATASETS_DISABLE_PROGRESS_BARS -u TRANSFORMERS_VERBOSITY -u HF_HUB_VERBOSITY \
		$(VENV)/bin/jupyter lab notebooks/

# The site's tools (requirements-site.txt) go into the same .venv, on first use of `make site`.
SITE_STAMP := $(VENV)/.site-installed

$(SITE_STAMP): $(STAMP) requirements-site.txt
	$(PY) -m pip install --quiet -r requirements-site.txt
	touch $(SITE_STAMP)

## The README, the notebooks with their committed outputs (not re-run), recipes/results READMEs and docs/**/*.md
## as a static site in site/ (Sphinx + MyST-NB), then every internal link of it checked.
site: $(SITE_STAMP)
	$(PY) scripts/build_site.py --out site
	$(PY) scripts/check_site.py site

## Build the site, then open every page in headless Chromium (apt-get install chromium chromium-driver): titles,
## console errors, images drawn, internal links answering 200; screenshots in site-check/.
site-check: site
	$(PY) scripts/browser_check.py site --screenshots site-check

## Wheels of everything setup installs, in $(WHEELS)/, for a room without network (not part of CI; about 600 MB).
## Off this machine add TORCH_INDEX=https://download.pytorch.org/whl/cpu (the CPU torch). The wheels fit this machine's
## OS and Python; PLATFORM=win_amd64 PYTHON_VERSION=3.11 (or macosx_11_0_arm64, ...) downloads wheels for other laptops.
wheelhouse:
	$(PYTHON) scripts/wheelhouse.py build --dest $(WHEELS)$(if $(TORCH_INDEX), --torch-index $(TORCH_INDEX))$(if $(PLATFORM), --platform $(PLATFORM))$(if $(PYTHON_VERSION), --python-version $(PYTHON_VERSION))

## Install from $(WHEELS)/ into a fresh venv with the network cut (unshare -rn), import everything, run the doctor (not part of CI).
wheelhouse-check:
	$(PYTHON) scripts/wheelhouse.py check --wheelhouse $(WHEELS) --python $(PYTHON)

## Is this machine ready? One PASS/WARN/FAIL line per check with its fix, in under a minute; installs nothing.
doctor:
	@test -x $(PY) || { echo "FAIL  no virtual environment at $(VENV). Fix: make setup (with network), or make setup WHEELHOUSE=wheelhouse (offline, from the folder make wheelhouse built)"; exit 1; }
	$(PY) utils/st_cookbook/doctor.py

clean:
	rm -rf $(OUT) .pytest_cache site site-check

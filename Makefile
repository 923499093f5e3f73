# Two commands on a fresh machine: `make run` and `make test`. Both create the
# virtual environment on first use; everything runs offline on the bundled model
# and corpus.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= build

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

.PHONY: setup run test format experiments budget bench lab notebooks clean pin colab-check

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
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

clean:
	rm -rf $(OUT) .pytest_cache

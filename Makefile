# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HCPCS := $(VENV)/bin/hcpcs
# The local mirror of the CMS files, when there is one (../shared/corpus here and in CI).
MIRROR ?= $(wildcard ../shared/corpus)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test test-unit lint install corpus index clean eval-baseline

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

corpus: install
	$(HCPCS) corpus fetch $(if $(MIRROR),--mirror $(MIRROR))

index: corpus
	$(HCPCS) index build --if-needed

run: index
	$(VENV)/bin/streamlit run app.py --server.headless true --server.address 127.0.0.1

EVAL_SETS := evals/coder.jsonl evals/policy.jsonl evals/validity.jsonl evals/drugs.jsonl \
	evals/drug_units.jsonl

# The regression check against evals/baseline.json first, then the test suite (whose summary
# line closes the run).
test: index
	mkdir -p .artifacts
	$(HCPCS) eval run $(EVAL_SETS) --baseline evals/baseline.json \
		--out .artifacts/eval-report.json --markdown .artifacts/eval-report.md
	HCPCS_REQUIRE_CORPUS=1 $(PY) -m pytest

eval-baseline: index
	$(HCPCS) eval run $(EVAL_SETS) --out .artifacts/eval-report.json --write-baseline

test-unit: install
	$(PY) -m pytest -m "not integration"

lint: install
	$(VENV)/bin/ruff check assistant tests app.py pages
	$(VENV)/bin/ruff format --check assistant tests app.py pages

clean:
	rm -rf $(VENV) index/builds index/current

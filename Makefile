# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HCPCS := $(VENV)/bin/hcpcs
# The local mirror of the CMS files, when there is one (../shared/corpus here and in CI).
MIRROR ?= $(wildcard ../shared/corpus)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test test-unit lint install corpus index clean

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

test: corpus
	HCPCS_REQUIRE_CORPUS=1 $(PY) -m pytest

test-unit: install
	$(PY) -m pytest -m "not integration"

lint: install
	$(VENV)/bin/ruff check assistant tests app.py
	$(VENV)/bin/ruff format --check assistant tests app.py

clean:
	rm -rf $(VENV) index/builds index/current

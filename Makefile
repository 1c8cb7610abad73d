# make lab: set up (.venv, package, d2l, data) and open JupyterLab on notebooks/
# make test: set up, then lint, unit tests and nbval over every notebook (smoke profile)
# make test-browser: the widgets driven in JupyterLab in headless Chromium (Debian's chromium)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DATA := data/FashionMNIST/raw/.verified
# Both books' d2l, side by side (--no-deps), for tests/test_d2l_versions.py: 0.17.6 is the
# Chinese edition's, 1.0.3 the English one's (the one installed in the venv).
D2L_VERSIONS := build/d2l/0.17.6/.stamp build/d2l/1.0.3/.stamp

.PHONY: install data lab test test-browser lint unit nbval notebooks bench zh clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q --no-deps d2l==1.0.3
	touch $@

data: $(DATA)

build/d2l/%/.stamp: $(STAMP)
	$(PY) -m pip install -q --no-deps --upgrade --target build/d2l/$* d2l==$*
	touch $@

$(DATA): $(STAMP)
	$(PY) -m resnet_helpers.data
	touch $@

# As root JupyterLab refuses to start without --allow-root; with no display (a server, a container)
# it gets --no-browser and prints the URL to open. tests/test_lab.py runs this same target.
LAB_PORT ?= 8888
LAB_AS_ROOT = $(filter 0,$(shell id -u))
LAB_NO_DISPLAY = $(if $(DISPLAY)$(WAYLAND_DISPLAY)$(BROWSER),,$(filter-out Darwin,$(shell uname -s)))

lab: install data
	$(if $(LAB_AS_ROOT),@echo "make lab: running as root: JupyterLab starts with --allow-root")
	$(if $(LAB_NO_DISPLAY),@echo "make lab: no display here: --no-browser; open the URL JupyterLab prints below")
	$(VENV)/bin/jupyter lab --port=$(LAB_PORT) $(if $(LAB_AS_ROOT),--allow-root) \
		$(if $(LAB_NO_DISPLAY),--no-browser) notebooks/

lint: install
	$(PY) -m ruff check .

unit: install data $(D2L_VERSIONS)
	$(PY) -m pytest -q tests --ignore=tests/browser

nbval: install data
# The Chinese edition runs the same code cells (tests/test_zh.py checks it is built from these), so
# nbval runs the English notebooks only.
	RESNET_PROFILE=smoke $(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-cell-timeout=600 -p no:cacheprovider --ignore=notebooks/zh notebooks

test: lint unit nbval

test-browser: install data
	$(PY) -m pytest -q -p no:cacheprovider tests/browser

# Re-executes every notebook in place under the default profile (cpu here; the README says which
# profile each committed notebook was executed under), then tidies the saved page: nbval markers
# as cell tags, solutions collapsed, no saved widget state (so nbviewer and nbconvert's HTML show
# each panel's snapshot instead of a blank widget). The Chinese edition is rebuilt from them.
notebooks: install data
	cd notebooks && for nb in [0-9]*.ipynb; do \
		../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=3600 --ExecutePreprocessor.store_widget_state=False \
			"$$nb" || exit 1; \
	done
	$(PY) tests/scripts/tidy_notebooks.py notebooks/[0-9]*.ipynb
	$(PY) -m resnet_helpers.zh --write

# The Chinese edition: notebooks/zh/ rebuilt from the English notebooks and the translations in
# notebooks/zh/translations/ (never executed on its own; tests/test_zh.py checks it is current).
zh: install
	$(PY) -m resnet_helpers.zh --write

bench: install data
	$(PY) -m resnet_helpers.training.bench

clean:
	rm -rf $(VENV) data

# The versions pyproject.toml claims: its floors exactly, on its oldest Python (test-oldest), and the
# newest Python and packages pip resolves (test-newest); unit tests and one notebook, in a venv of
# their own (default build/venv-oldest, build/venv-newest; OLDEST_VENV=..., NEWEST_VENV=... to move it).
.PHONY: test-oldest test-newest
test-oldest:
	tests/scripts/test_versions.sh oldest $(OLDEST_VENV)

test-newest:
	tests/scripts/test_versions.sh newest $(NEWEST_VENV)

# make lab: set up what a student needs (.venv, package, d2l, data) and open JupyterLab on notebooks/
#   (make lab NOTEBOOKS=zh: on the Chinese notebooks, notebooks/zh/)
# make test: set up, also the test tools (.[test]), then lint, unit tests and nbval over every notebook
#   (smoke profile)
# make test-browser: the widgets driven in JupyterLab in headless Chromium (Debian's chromium)
# The maintainers' tools (benchmark, Chinese edition, notebook tidier...) are scripts in tools/.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.test-installed-stamp
DATA := data/FashionMNIST/raw/.verified
# Both books' d2l, side by side (--no-deps), for tests/test_d2l_versions.py: 0.17.6 is the
# Chinese edition's, 1.0.3 the English one's (the one installed in the venv).
D2L_VERSIONS := build/d2l/0.17.6/.stamp build/d2l/1.0.3/.stamp

.PHONY: install install-test data lab test test-browser lint unit nbval notebooks notebooks-zh bench zh messages clean

# install: the student's set (pyproject's dependencies); install-test adds the test extra.
install: $(STAMP)
install-test: $(TEST_STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	$(PY) -m pip install -q --no-deps d2l==1.0.3
	touch $@

$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test]'
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
# NOTEBOOKS=zh opens the Chinese edition (notebooks/zh/); empty (the default): the English notebooks.
NOTEBOOKS ?=
LAB_DIR = notebooks/$(if $(filter zh,$(NOTEBOOKS)),zh/,$(if $(NOTEBOOKS),$(error NOTEBOOKS=$(NOTEBOOKS): \
	use NOTEBOOKS=zh for the Chinese notebooks, or leave it out for the English ones)))
LAB_AS_ROOT = $(filter 0,$(shell id -u))
LAB_NO_DISPLAY = $(if $(DISPLAY)$(WAYLAND_DISPLAY)$(BROWSER),,$(filter-out Darwin,$(shell uname -s)))

lab: install data
	$(if $(LAB_AS_ROOT),@echo "make lab: running as root: JupyterLab starts with --allow-root")
	$(if $(LAB_NO_DISPLAY),@echo "make lab: no display here: --no-browser; open the URL JupyterLab prints below")
	$(VENV)/bin/jupyter lab --port=$(LAB_PORT) $(if $(LAB_AS_ROOT),--allow-root) \
		$(if $(LAB_NO_DISPLAY),--no-browser) $(LAB_DIR)

lint: install-test
	$(PY) -m ruff check .

unit: install-test data $(D2L_VERSIONS)
	$(PY) -m pytest -q tests --ignore=tests/browser

nbval: install-test data
# Both editions: the Chinese notebooks run the English code (tests/test_zh.py checks it) in Chinese
# (their setup cells call set_language("zh")), so nbval runs them too, with their own outputs.
	RESNET_PROFILE=smoke $(PY) -m pytest -q --nbval-lax --nbval-current-env --nbval-cell-timeout=600 -p no:cacheprovider notebooks

test: lint unit nbval

test-browser: install-test data
	$(PY) -m pytest -q -p no:cacheprovider tests/browser

# Re-executes every notebook in place under the default profile (cpu here; the README says which
# profile each committed notebook was executed under), then tidies the saved page: nbval markers
# as cell tags, solutions collapsed, no saved widget state (so nbviewer and nbconvert's HTML show
# each panel's snapshot instead of a blank widget). Then the Chinese edition (notebooks-zh).
EXECUTE = $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	--ExecutePreprocessor.timeout=3600 --ExecutePreprocessor.store_widget_state=False
notebooks: install data
	cd notebooks && for nb in [0-9]*.ipynb; do ../$(EXECUTE) "$$nb" || exit 1; done
	$(PY) tools/tidy_notebooks.py notebooks/[0-9]*.ipynb
	$(MAKE) notebooks-zh

# The Chinese edition: rebuilt from the English notebooks and the translations (tools/zh.py), then
# executed in notebooks/zh/ (its outputs are its own: Chinese figures and text, from the same code),
# then rebuilt once more, which keeps those outputs and drops what the run added (widget state).
notebooks-zh: install data
	$(PY) tools/zh.py --write
	cd notebooks/zh && for nb in [0-9]*.ipynb; do ../../$(EXECUTE) "$$nb" || exit 1; done
	$(PY) tools/zh.py --write

# The helpers' message catalogs (resnet_helpers/i18n.py): collect the strings marked _() with Babel,
# carry them into the Chinese .po file (translate the new ones there), compile the .mo gettext reads.
LOCALE := resnet_helpers/locale
messages: install-test
	mkdir -p build
	$(VENV)/bin/pybabel -q extract --no-location --sort-output -k _ -o build/resnet_helpers.pot resnet_helpers
	$(VENV)/bin/pybabel -q update --no-fuzzy-matching -i build/resnet_helpers.pot -d $(LOCALE) \
		-D resnet_helpers -l zh_CN
	$(VENV)/bin/pybabel compile --statistics -d $(LOCALE) -D resnet_helpers -l zh_CN

# The Chinese edition's sources: notebooks/zh/ rebuilt from the English notebooks and the translations
# in notebooks/zh/translations/, keeping the outputs of unchanged code cells (tests/test_zh.py checks it
# is current and executed; notebooks-zh executes it).
zh: install
	$(PY) tools/zh.py --write

# The course's pipeline against ours (tools/bench.py; BENCH_ARGS="--steps 20" to pass options).
bench: install data
	$(PY) tools/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data

# The versions pyproject.toml claims: its floors exactly, on its oldest Python (test-oldest: 3.10,
# found on PATH or in pyenv's versions; PYTHON=... to choose), and the newest Python and packages
# pip resolves (test-newest); unit tests and one notebook, in a venv of their own (default
# build/venv-oldest, build/venv-newest; OLDEST_VENV=..., NEWEST_VENV=... to move it). tools/versions.sh.
.PHONY: test-oldest test-newest
test-oldest:
	tools/versions.sh oldest $(OLDEST_VENV)

test-newest:
	tools/versions.sh newest $(NEWEST_VENV)

#!/usr/bin/env bash
# Test the package on the versions pyproject.toml claims (`make test-oldest`, `make test-newest`).
#
#   tools/versions.sh oldest [VENV]   # the declared floors, exactly, on the oldest Python
#   tools/versions.sh newest [VENV]   # the newest Python and packages pip resolves
#
# oldest: the interpreter is requires-python's floor and every `name>=V` in [project] dependencies
#   is installed as `name==V` (also as constraints), the rest of the package resolved around them.
# newest: the newest of python3.14 and python3.13 found (torch 2.14 ships wheels for 3.10-3.14) with
#   the newest torch, torchvision, numpy and ipywidgets pip allows.
# Either way d2l==1.0.3 is added with --no-deps, as in the Makefile. Then the unit tests and one
# notebook under nbval run in that venv; the versions and the results are printed and written to
# VENV/test-versions.txt. The venv (default build/venv-<oldest|newest>) is reused while it is newer
# than pyproject.toml. An interpreter python3.X is looked for on PATH, then in pyenv's versions;
# PYTHON=... overrides it.
set -euo pipefail
which=${1:?usage: $0 oldest|newest [VENV]}
venv=${2:-build/venv-$which}
notebook=${NOTEBOOK:-notebooks/02_residual_block.ipynb}
cd "$(dirname "$0")/.."

floors() {  # requires-python and the `name>=V` lines of [project] dependencies, as `name==V`
  sed -n 's/^requires-python = ">=\([0-9.]*\)"/python==\1/p' pyproject.toml
  sed -n '/^dependencies = \[/,/^\]/s/^ *"\([A-Za-z0-9_.-]*\)>=\([0-9.]*\)",.*/\1==\2/p' pyproject.toml
}

find_python() {  # python$1 on PATH if it runs, else the newest pyenv install of it
  if "python$1" -V >/dev/null 2>&1; then echo "python$1"; return; fi
  ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1".*/bin/"python$1" 2>/dev/null | sort -V | tail -n 1 || true
}

case $which in
  oldest)
    pins=$(floors)
    python=${PYTHON:-$(find_python "$(echo "$pins" | sed -n 's/^python==//p')")}
    packages=$(echo "$pins" | grep -v '^python==' | tr '\n' ' ')
    ;;
  newest)
    python=${PYTHON:-$(find_python 3.14)}
    python=${python:-$(find_python 3.13)}
    packages="torch torchvision numpy ipywidgets"
    ;;
  *) echo "usage: $0 oldest|newest [VENV]" >&2; exit 2 ;;
esac

[ -n "$python" ] || { echo "$0: no Python for the $which run found; set PYTHON=..." >&2; exit 1; }

start=$(date +%s)
if [ ! -f "$venv/.installed" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  if [ "$which" = oldest ]; then
    echo "$packages" | tr ' ' '\n' | grep . >"$venv/constraints.txt"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install -q -c "$venv/constraints.txt" $packages -e '.[test]'
  else
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install -q --upgrade --upgrade-strategy eager $packages -e '.[test]'
  fi
  "$venv/bin/python" -m pip check  # before d2l, whose pins are not met on purpose
  "$venv/bin/python" -m pip install -q --no-deps d2l==1.0.3
  touch "$venv/.installed"
fi
installed=$(date +%s)
"$venv/bin/python" -m resnet_helpers.data >/dev/null  # finds (or fetches) and verifies data/

report="$venv/test-versions.txt"
{
  echo "== $which: $("$venv/bin/python" -VV | head -1)"
  "$venv/bin/python" -m pip list --format=freeze 2>/dev/null \
    | grep -iE '^(torch|torchvision|numpy|ipywidgets|matplotlib|pandas|scipy|jupyterlab|nbval|pytest|d2l)=='
} | tee "$report"

status=0
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests --ignore=tests/browser 2>&1 \
  | tee "$venv/unit.log" | tail -n 25 || status=1
RESNET_PROFILE=smoke "$venv/bin/python" -m pytest -q --nbval-lax --nbval-current-env \
  --nbval-cell-timeout=600 -p no:cacheprovider "$notebook" 2>&1 \
  | tee "$venv/nbval.log" | tail -n 25 || status=1
end=$(date +%s)
{
  echo "unit:   $(tail -n 1 "$venv/unit.log")"
  echo "nbval:  $(tail -n 1 "$venv/nbval.log") ($notebook)"
  echo "time:   install $((installed - start)) s, tests $((end - installed)) s"
} | tee -a "$report"
exit $status

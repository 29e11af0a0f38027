#!/usr/bin/env bash
# The Python binding's tests: builds upwatch._upwatch once (debug) into /work/main/.venv (or
# $UPWATCH_VENV), then runs pytest on bindings-python/tests and the Django and Flask examples,
# and mypy --strict on the examples and tests. Exits non-zero when any of them fails.
#
#   bash bindings-python/scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${UPWATCH_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install -q --disable-pip-version-check \
  'maturin>=1.7,<2' pytest django flask mypy django-stubs psutil typing_extensions

echo "==> maturin develop (debug build of upwatch._upwatch)"
VIRTUAL_ENV="$(cd "$venv" && pwd)" "$venv/bin/maturin" develop -q

status=0
echo "==> pytest"
"$py" -m pytest -q -p no:cacheprovider bindings-python/tests examples/django examples/flask || status=1

echo "==> mypy --strict (the package, examples and tests)"
if "$py" -m mypy --strict --no-incremental --config-file bindings-python/mypy.ini \
  bindings-python/python/upwatch bindings-python/tests examples/django examples/flask; then
  echo "mypy: passed"
else
  status=1
fi
exit $status

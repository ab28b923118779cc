# Sourced by the other scripts: make sure uv is there, and never let it download a Python.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export UV_PYTHON_DOWNLOADS=never
export UV_PYTHON_PREFERENCE=only-system
if ! command -v uv >/dev/null 2>&1; then
    if ! python3 -m uv --version >/dev/null 2>&1; then
        echo "installing uv from PyPI" >&2
        python3 -m pip install --quiet uv
    fi
    uv() { python3 -m uv "$@"; }
fi

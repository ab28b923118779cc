#!/usr/bin/env bash
# Start the portal with demo data on the embedded SQLite database (./var/portal.sqlite3).
source "$(dirname "$0")/_uv.sh"
uv sync --quiet --no-dev
exec uv run --no-dev portal serve "$@"

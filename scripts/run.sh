#!/usr/bin/env bash
# Set up the app (venv, Python packages) and run it on http://127.0.0.1:5000.
# Usage: bash scripts/run.sh [flask run args...]   (production: see README, gunicorn)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
exec .venv/bin/flask --app app run "$@"

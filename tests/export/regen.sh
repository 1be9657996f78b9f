#!/bin/bash
# Rewrite the export goldens (tests/data/export/) from the plan fixtures: run after an intended
# change of an exporter's output, then review `git diff tests/data/export`.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 tests/export/check_export.py regen "${FLOTILLA:-build/cli/flotilla}"

#!/usr/bin/env bash
# Runs last in the suite: every test keeps its temporary files in its own directory under
# $TMPDIR (the build's test-tmp folder) and removes it; anything left there is a test that
# did not clean up (or crashed).
set -u
dir="$1"
[ -d "$dir" ] || exit 0
left=$(find "$dir" -mindepth 1 | head -n 20)
if [ -n "$left" ]; then
  echo "temporary files left behind by the test suite in $dir:" >&2
  echo "$left" >&2
  exit 1
fi
echo "no temporary files left in $dir"

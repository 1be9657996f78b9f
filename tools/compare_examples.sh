#!/bin/bash
# Behaviour check for refactors: tools/compare_examples.sh FLOTILLA_BIN SOURCE_ROOT OUTDIR runs the
# example plans, a placement, a plan with --current, what-if replay/scenarios and an estimate with
# FLOTILLA_BIN; run it with two builds and diff the OUTDIRs (wall-clock keys time_s, milp_time_s,
# template_time_s differ run to run).
BIN=$1; SRC=$2; OUT=$3; mkdir -p $OUT
cd $SRC
for j in examples/jobs/train_*.json examples/jobs/serve_*.json; do
  n=$(basename $j .json)
  $BIN plan $j --json > $OUT/$n.plan.json 2>&1; echo "rc=$?" >> $OUT/$n.plan.json
done
$BIN plan examples/jobs/train_gpt3_13b.json --availability examples/jobs/avail_small.json --json > $OUT/avail.json 2>&1; echo "rc=$?" >> $OUT/avail.json
$BIN plan tests/data/whatif/job_small.json -o $OUT/cur_plan.json > /dev/null 2>&1
$BIN place $OUT/cur_plan.json -o $OUT/cur_placed.json > $OUT/place.txt 2>&1; echo "rc=$?" >> $OUT/place.txt
$BIN plan tests/data/whatif/job_small.json --availability examples/jobs/avail_small.json --current $OUT/cur_placed.json --json > $OUT/replan.json 2>&1; echo "rc=$?" >> $OUT/replan.json
$BIN whatif tests/data/whatif/job_small.json --trace tests/data/whatif/trace_small.csv --json > $OUT/whatif.json 2>&1; echo "rc=$?" >> $OUT/whatif.json
$BIN whatif tests/data/whatif/job_small.json --scenarios tests/data/whatif/scenarios_small.json --json > $OUT/scen.json 2>&1; echo "rc=$?" >> $OUT/scen.json
$BIN estimate --gpu H100-SXM-80GB --model gpt3-1.3b --phase train --json > $OUT/est.json 2>&1; echo "rc=$?" >> $OUT/est.json

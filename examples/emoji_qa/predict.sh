#!/usr/bin/env bash
# The notebook's three example tweets scored by a trained run of sqam.pbtxt: the cosine with
# each sentiment emoji, and the 5 best of all 872 emoji by cosine with their PNG strips.
#
#   examples/emoji_qa/predict.sh RUN_DIR [OUT_DIR]      # strips: OUT_DIR/top_000{0,1,2}.png (default RUN_DIR/strips)
#
# Environment: GRAPHRUN (default build/graphrun).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
run="${1:?usage: examples/emoji_qa/predict.sh RUN_DIR [OUT_DIR]}"
out="${2:-$run/strips}"
"${GRAPHRUN:-build/graphrun}" predict "$root/examples/emoji_qa/sqam.pbtxt" --checkpoint "$run" \
  -i emoji_codes="$root/examples/emoji_qa/data/codes/emoji_codes.npy" --rank emoji_cosine --top 5 \
  --candidates "$root/examples/data/emoji_images/png36" --strip "$out" \
  -t "@united Flight is awful only one lavatory functioning, and people lining up, bumping, etc. because can't use 1st class bathroom. Ridiculous" \
  -t "@usairways I've called for 3 days and can't get thru. is there some secret method i can use that doesn't result in you hanging up on me?" \
  -t "@AmericanAir Let's all have a extraordinary week and make it a year to remember #GoingForGreat 2015 thanks so much American Airlines!!!"

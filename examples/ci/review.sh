#!/usr/bin/env bash
# Switchboard's review workflow for any CI (plain bash, no vendor API):
#
#   review.sh plan  [CONFIG]   on a pull request: write plan.md (post it as a comment) and plan.json
#   review.sh apply [CONFIG]   on main: apply plan.json — exactly what was planned, refused if the
#                              runtime moved since — or, with no plan file, plan then apply it
#
# Environment:
#   SWITCHBOARD          how to run the CLI (default: npx --no-install switchboard)
#   SWITCHBOARD_RUNTIME  URL of the runtime (switchboard serve), with SWITCHBOARD_TOKEN;
#                        without it, the embedded runtime in ./.switchboard
#   OUT_DIR              where plan.md and plan.json are written (default: .)
#   PLAN_FILE            the plan to apply (default: $OUT_DIR/plan.json)
#   plus the variables your configuration's ${env:…} secrets name.
#
# Exit codes (switchboard plan --detailed-exitcode):
#   plan:  0 no changes, 2 changes planned (post plan.md), 1 error (invalid configuration …)
#   apply: 0 applied (or nothing to apply), 1 refused or failed: nothing applied; when refused,
#          replan.md / replan.json show what applying now would do, for a new review
set -euo pipefail

usage() {
  echo "usage: review.sh plan|apply [CONFIG]   (see the comments at the top of this script)" >&2
  exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || usage
mode=$1
config=${2:-config}
out=${OUT_DIR:-.}
read -r -a sb <<<"${SWITCHBOARD:-npx --no-install switchboard}"
mkdir -p "$out"

case $mode in
plan)
  status=0
  "${sb[@]}" plan "$config" --format markdown --out "$out/plan.json" --detailed-exitcode >"$out/plan.md" || status=$?
  case $status in
  0) echo "review.sh: no changes: $config matches the runtime" >&2 ;;
  2) echo "review.sh: changes planned: post $out/plan.md on the pull request; $out/plan.json is the plan apply carries out" >&2 ;;
  *)
    echo "review.sh: plan FAILED (exit $status): fix the configuration (switchboard validate $config)" >&2
    exit 1
    ;;
  esac
  cat "$out/plan.md" # into the job's log; posting it is the CI's own tool's job (see README.md)
  exit "$status"
  ;;
apply)
  plan_file=${PLAN_FILE:-$out/plan.json}
  if [[ ! -f $plan_file ]]; then
    echo "review.sh: no saved plan at $plan_file: planning $config now" >&2
    "${sb[@]}" plan "$config" --format markdown --out "$plan_file" >"$out/plan.md"
  fi
  status=0
  "${sb[@]}" apply "$plan_file" 2>"$out/apply.err" || status=$?
  cat "$out/apply.err" >&2
  if [[ $status -eq 0 ]]; then
    echo "review.sh: applied $plan_file" >&2
    exit 0
  fi
  # Refused (stale: the runtime moved since the plan was made; unsafe; a secret changed …) or
  # failed: nothing was applied. Plan again so the log shows what applying now would do.
  replan=0
  "${sb[@]}" plan "$config" --format markdown --out "$out/replan.json" --detailed-exitcode >"$out/replan.md" || replan=$?
  {
    echo
    echo "=================================================================="
    if grep -q 'has moved to revision' "$out/apply.err"; then
      echo "review.sh: APPLY REFUSED: $plan_file is STALE (the runtime changed since it was planned)."
    else
      echo "review.sh: APPLY FAILED (exit $status): nothing was applied."
    fi
    if [[ $replan -eq 0 || $replan -eq 2 ]]; then
      echo "The plan against the runtime as it is now is in $out/replan.md (and replan.json):"
      echo "review it (it also reverts any out-of-band change), then run this job again."
    else
      echo "Planning again failed too (exit $replan)."
    fi
    echo "=================================================================="
  } >&2
  [[ -f $out/replan.md ]] && cat "$out/replan.md" >&2
  exit 1
  ;;
*) usage ;;
esac

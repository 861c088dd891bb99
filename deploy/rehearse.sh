#!/usr/bin/env bash
# Rehearses the scheduled job on the sample MSP, as cron would run it: every snapshot day's
# exports land in the inbox and `govpack run daily` runs as of that day (weekly on Mondays),
# then `govpack run monthly` closes each month. One tenant's RMM export stops on STOP_AFTER, so
# the stale-data alert and `govpack status` have something to show. Alerts are dry runs
# (`--dry-run`): the cards are written, nothing is posted.
# Needs bash and GNU date (Linux).
#
#   deploy/rehearse.sh [WORKDIR]   (default ./govpack-rehearsal; env GOVPACK=path/to/govpack,
#                                   MONTHS=3 of sample history ending 2026-10-31)
set -euo pipefail
work="${1:-govpack-rehearsal}"
govpack="${GOVPACK:-govpack}"
stop_tenant="${STOP_TENANT:-29683551}"
stop_after="${STOP_AFTER:-2026-10-12}"
months="${MONTHS:-3}"
unset GOVPACK_TEAMS_WEBHOOK_URL

# Start afresh, but only ever delete a folder this script made.
if [[ -e "$work" && ! -e "$work/.govpack-rehearsal" ]]; then
  echo "$work exists and is not a rehearsal folder: choose another" >&2
  exit 2
fi
rm -rf "$work"
mkdir -p "$work/inbox"
cd "$work"
touch .govpack-rehearsal
cat > govpack.toml <<'TOML'
[lake]
path = "lake"
[run]
inbox = "inbox"
# A rehearsal's drops are whole when they are moved in: no need to wait for them to settle.
inbox_settle_seconds = 0
output = "output"
TOML
"$govpack" sample --out drops --drops --months "$months" --until 2026-10-31 > /dev/null
for dir in drops/*/; do
  day="$(basename "$dir")"
  if [[ "$day" > "$stop_after" ]]; then
    # The tenant's RMM export job broke: its snapshot files stop carrying it.
    for f in "$dir"/devices_*.csv "$dir"/patch_status_*.csv "$dir"/device_patch_summary_*.csv; do
      [[ -e "$f" ]] && awk -F, -v t="$stop_tenant" 'NR == 1 || $2 != t' "$f" > "$f.new" && mv "$f.new" "$f"
    done
  fi
  mv "$dir" "inbox/$day"
  job=daily
  [[ "$(date -u -d "$day" +%u)" == 1 ]] && job=weekly
  "$govpack" run "$job" --as-of "$day" --dry-run > "run-$day.log" 2>&1 || { echo "run $job $day failed:"; cat "run-$day.log"; exit 1; }
done
# The first of each month after a drop month closes that month.
for first in $(ls inbox/processed | cut -c1-7 | sort -u); do
  next="$(date -u -d "$first-01 +1 month" +%Y-%m-%d)"
  "$govpack" run monthly --as-of "$next" --dry-run > "run-monthly-$next.log" 2>&1 || { cat "run-monthly-$next.log"; exit 1; }
done
"$govpack" status --as-of 2026-10-31

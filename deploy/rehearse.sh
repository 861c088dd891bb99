#!/usr/bin/env bash
# Rehearses the scheduled job on the sample MSP, as cron would run it: every snapshot day's
# exports land in the inbox and `govpack run daily` runs as of that day (weekly on Mondays),
# then `govpack run monthly` closes each month. One tenant's RMM export stops on STOP_AFTER, so
# the stale-data alert and `govpack status` have something to show. Alerts are dry runs
# (`--dry-run`): the cards are written, nothing is posted.
# Needs bash and GNU date (Linux).
#
#   deploy/rehearse.sh [WORKDIR]   (default ./govpack-rehearsal; env GOVPACK=path/to/govpack,
#                                   MONTHS=3 of sample history ending 2026-10-31, STAND_IN=the
#                                   stand-in binary for a collector rehearsal, see the end)
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
# Collectors, against the stand-ins (no network): with STAND_IN naming the stand-in binary
# (`cargo build --release --example vendor_stand_in`, then
# STAND_IN="${CARGO_TARGET_DIR:-target}/release/examples/vendor_stand_in"), today's daily run pulls
# CISA's KEV feed, MSRC's CVRF documents, Datto RMM, NinjaOne, Autotask, ConnectWise Manage and the
# WUfB reports' Log Analytics workspace from loopback servers built from the vendor samples, then
# ingests what it pulled. The keys below are the stand-ins' own.
if [[ -n "${STAND_IN:-}" ]]; then
  coproc STANDINS { "$STAND_IN" --devices 600; }
  read -r _ datto_url <&"${STANDINS[0]}"
  read -r _ ninja_url <&"${STANDINS[0]}"
  read -r _ autotask_url <&"${STANDINS[0]}"
  read -r _ manage_url <&"${STANDINS[0]}"
  read -r _ wufb_url <&"${STANDINS[0]}"
  cat >> govpack.toml <<TOML
[collect]
sources = ["cisa-kev", "msrc-cvrf", "datto-rmm", "ninjaone", "autotask", "connectwise-manage", "wufb"]
retry_backoff_ms = 100
[collect.cisa_kev]
url = "$datto_url/feeds/known_exploited_vulnerabilities.json"
[collect.msrc_cvrf]
api_url = "$datto_url/cvrf/v3.0"
[collect.datto_rmm]
api_url = "$datto_url"
[collect.ninjaone]
instance_url = "$ninja_url"
[collect.connectwise_manage]
site_url = "$manage_url"
company = "msp"
[collect.wufb]
workspace_id = "ws-9e8d7c6b"
entra_tenant_id = "11111111-2222-3333-4444-555555555555"
token_url = "$wufb_url"
api_url = "$wufb_url"
TOML
  export GOVPACK_DATTO_RMM_API_KEY=dattoKEY-7f3a9c21 GOVPACK_DATTO_RMM_API_SECRET=dattoSECRET-b41e77d0c9
  export GOVPACK_NINJAONE_CLIENT_ID=ninja-client-3c1d GOVPACK_NINJAONE_CLIENT_SECRET=ninja-secret-9f8e7d6c
  export AUTOTASK_API_INTEGRATION_CODE=AT-INTEGRATION-5e2b AUTOTASK_USERNAME=govpack-api@msp.example \
    AUTOTASK_SECRET=at-secret-71c0d9 AUTOTASK_BASE_URL="$autotask_url/ATServicesRest/"
  export GOVPACK_CW_MANAGE_PUBLIC_KEY=cwPUBLIC-3b9d GOVPACK_CW_MANAGE_PRIVATE_KEY=cwPRIVATE-e27a41 \
    GOVPACK_CW_MANAGE_CLIENT_ID=4f0e3c2a-cw-client
  export GOVPACK_AZURE_CLIENT_ID=azure-app-6d1f GOVPACK_AZURE_CLIENT_SECRET=azure-secret-0c9b2e
  "$govpack" collect --check > collect-check.log 2>&1 || { cat collect-check.log; exit 1; }
  "$govpack" run daily --dry-run > run-collect.log 2>&1 || { cat run-collect.log; exit 1; }
  eval "exec ${STANDINS[1]}>&-"
  wait "$STANDINS_PID" || true
fi
"$govpack" status --as-of 2026-10-31

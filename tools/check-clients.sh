#!/usr/bin/env bash
# Generate a Python and a TypeScript client from openapi/openapi.json with the pinned generators and fail on
# any warning: a bank integrating from a generated client must get every operation.
#   openapi-python-client  tools/requirements.txt (hashes), into tools/.venv
#   openapi-typescript     tools/package.json + package-lock.json, into tools/node_modules (npm ci)
set -euo pipefail
cd "$(dirname "$0")"
SPEC=../openapi/openapi.json
if [ ! -x .venv/bin/openapi-python-client ] || [ requirements.txt -nt .venv/.installed ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements.txt
  touch .venv/.installed
fi
if [ ! -x node_modules/.bin/openapi-typescript ] || [ package-lock.json -nt node_modules/.installed ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  touch node_modules/.installed
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0

.venv/bin/openapi-python-client generate --path "$SPEC" --config openapi-python-client.yaml \
  --output-path "$out/python" --overwrite >"$out/python.log" 2>&1 || status=1
if grep -qiE "warning|unable|error|will not be generated|omitted" "$out/python.log"; then status=1; fi
echo "-- openapi-python-client $(.venv/bin/openapi-python-client --version | awk '{print $NF}'):" \
  "$(grep -ciE '^WARNING|^Unable' "$out/python.log" || true) warnings"
[ $status = 0 ] || cat "$out/python.log"

ts=0
node_modules/.bin/openapi-typescript "$SPEC" -o "$out/api.d.ts" >"$out/ts.log" 2>&1 || ts=1
if grep -qiE "warn|error|⚠|✘" "$out/ts.log"; then ts=1; fi
echo "-- openapi-typescript $(node -p 'require("./node_modules/openapi-typescript/package.json").version'):" \
  "$( [ $ts = 0 ] && echo 0 || echo some) warnings"
[ $ts = 0 ] || { cat "$out/ts.log"; status=1; }
exit $status

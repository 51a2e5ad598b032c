#!/usr/bin/env bash
# The API's contract, checked by a third party's tool: schemathesis (PyPI)
# against a running Rapport, every operation of its OpenAPI document, first
# with the integration token, then with a front-desk staff session (signing
# out excluded: it would end the session under test). Every answer must be
# one the document declares, of its declared type and schema, and none a
# server error.
# Usage: contract.sh SCHEMATHESIS BASE_URL TOKEN ORGANIZATION
set -euo pipefail
cd "$(dirname "$0")/.."
st="$1" base="$2" token="$3"
export RAPPORT_DEMO_ORG="$4"
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
run() {
  "$st" --config-file .ci/schemathesis.toml run "$base/api/openapi.json" --checks "$checks" \
    --max-examples 8 --workers 1 --seed 1 --no-color "$@"
}
echo "-- with the integration token"
run -H "Authorization: Bearer $token"
echo "-- with a front-desk session"
login="$(mktemp)"
curl -sS -D "$login.headers" -o "$login" -H 'content-type: application/json' \
  -d '{"email": "frontdesk@riverbend.example", "password": "rapport-demo-front-desk"}' "$base/api/v1/auth/login"
cookie="$(grep -io '^set-cookie: [^;]*' "$login.headers" | head -n 1 | cut -d' ' -f2)"
csrf="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$login")"
run -H "Cookie: $cookie" -H "X-CSRF-Token: $csrf" --exclude-path-regex '^/api/v1/auth/logout'

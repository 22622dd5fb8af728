#!/usr/bin/env bash
# Installs Azurite (the Azure Storage emulator) into <repo>/.azurite, once. Idempotent: does nothing when it is there.
# Used by .ci/run before the tests, and by tests/OrleansBroker.AzureStorage.Tests (AzuriteFixture) when run alone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="3.37.0"
if [[ -x "$root/.azurite/node_modules/.bin/azurite" ]]; then
  echo "azurite: already installed in $root/.azurite"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "azurite: npm is missing; install Node.js (e.g. apt-get install -y nodejs npm)" >&2
  exit 1
fi
mkdir -p "$root/.azurite"
npm install --prefix "$root/.azurite" "azurite@$version" --no-audit --no-fund
echo "azurite: installed $version in $root/.azurite"

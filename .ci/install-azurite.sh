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
# Into a staging directory, renamed into place when complete (as the tests' own installer does): .azurite is whole or absent.
staging="$root/.azurite.staging-$$"
trap 'rm -rf "$staging"' EXIT # also when npm fails (set -e) or the script is interrupted
rm -rf "$staging"
mkdir -p "$staging"
npm install --prefix "$staging" "azurite@$version" --no-audit --no-fund
if ! mv -T "$staging" "$root/.azurite" 2>/dev/null; then
  [[ -x "$root/.azurite/node_modules/.bin/azurite" ]] || { echo "azurite: $root/.azurite holds an incomplete install; delete it and run this script again" >&2; exit 1; }
fi
echo "azurite: installed $version in $root/.azurite"

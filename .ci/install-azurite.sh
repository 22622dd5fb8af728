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
rm -rf "$staging"
mkdir -p "$staging"
npm install --prefix "$staging" "azurite@$version" --no-audit --no-fund
if ! mv -T "$staging" "$root/.azurite" 2>/dev/null; then
  rm -rf "$staging"
  [[ -x "$root/.azurite/node_modules/.bin/azurite" ]] || { echo "azurite: could not move the install into $root/.azurite" >&2; exit 1; }
fi
echo "azurite: installed $version in $root/.azurite"

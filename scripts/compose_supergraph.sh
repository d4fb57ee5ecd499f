#!/usr/bin/env bash
# Compose gateway/supergraph.graphql from the subgraph SDL files.
#
#   scripts/compose_supergraph.sh [SDL_DIR [OUTPUT]]
#
# SDL_DIR  holds catalog.graphql, matching.graphql, ledger.graphql (default gateway/subgraphs,
#          or $WASTEX_SUBGRAPH_DIR); OUTPUT defaults to gateway/supergraph.graphql (or
#          $WASTEX_SUPERGRAPH). Installs the gateway's node packages first if they are missing or
#          older than package-lock.json. Exits non-zero, leaving OUTPUT untouched, if composition fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
gw="$root/gateway"

if [ ! -f "$gw/node_modules/.package-lock.json" ] || [ "$gw/package-lock.json" -nt "$gw/node_modules/.package-lock.json" ]; then
  echo "compose_supergraph: installing gateway node packages (npm ci)" >&2
  (cd "$gw" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ $# -ge 1 ]; then WASTEX_SUBGRAPH_DIR="$(realpath "$1")"; export WASTEX_SUBGRAPH_DIR; fi
if [ $# -ge 2 ]; then WASTEX_SUPERGRAPH="$(realpath -m "$2")"; export WASTEX_SUPERGRAPH; fi
cd "$gw"
exec node compose.mjs

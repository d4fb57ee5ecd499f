/**
 * Composition config for `mesh-compose` (run it with `npm run compose`).
 *
 * Composes the three wastex subgraphs from their SDL files (written by the Python
 * side with `schema.as_str()`), so no running subgraph is needed. Output:
 * supergraph.graphql (or $WASTEX_SUPERGRAPH), read by gateway.mjs.
 *
 * Env:
 *   WASTEX_SUBGRAPH_DIR   directory holding catalog.graphql, matching.graphql, ledger.graphql
 *                         (default: ./subgraphs next to this file)
 *   WASTEX_CATALOG_URL / WASTEX_MATCHING_URL / WASTEX_LEDGER_URL
 *                         URL recorded in the supergraph for each subgraph
 *                         (defaults http://127.0.0.1:4001|4002|4003/graphql). gateway.mjs
 *                         overrides them at runtime anyway, so the recorded value is only a default.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, loadGraphQLHTTPSubgraph } from '@graphql-mesh/compose-cli';

const here = dirname(fileURLToPath(import.meta.url));
const subgraphDir = resolve(process.env.WASTEX_SUBGRAPH_DIR || join(here, 'subgraphs'));

const SUBGRAPHS = [
  { name: 'catalog', env: 'WASTEX_CATALOG_URL', url: 'http://127.0.0.1:4001/graphql' },
  { name: 'matching', env: 'WASTEX_MATCHING_URL', url: 'http://127.0.0.1:4002/graphql' },
  { name: 'ledger', env: 'WASTEX_LEDGER_URL', url: 'http://127.0.0.1:4003/graphql' },
] as const;

const missing = SUBGRAPHS.map(s => join(subgraphDir, `${s.name}.graphql`)).filter(p => !existsSync(p));
if (missing.length) {
  console.error(`wastex compose: missing subgraph SDL file(s): ${missing.join(', ')}`);
  process.exit(1);
}

export const composeConfig = defineConfig({
  subgraphs: SUBGRAPHS.map(s => ({
    sourceHandler: loadGraphQLHTTPSubgraph(s.name, {
      endpoint: process.env[s.env] || s.url,
      source: join(subgraphDir, `${s.name}.graphql`),
      federation: true,
    }),
  })),
});

#!/usr/bin/env node
/**
 * `npm run compose`: compose the supergraph from the subgraph SDL files with mesh-compose
 * (config: mesh.config.ts) and write it atomically (temp file + rename), so a gateway polling
 * the file never reads half of it. Exits non-zero, leaving the old file untouched, if an SDL
 * file is missing or composition fails.
 *
 * Env:
 *   WASTEX_SUBGRAPH_DIR   dir with catalog.graphql, matching.graphql, ledger.graphql (./subgraphs)
 *   WASTEX_SUPERGRAPH     output file                                             (./supergraph.graphql)
 *   WASTEX_CATALOG_URL / WASTEX_MATCHING_URL / WASTEX_LEDGER_URL  URLs recorded in the output
 * Paths are relative to the current directory; defaults are relative to this directory.
 */
import { spawnSync } from 'node:child_process';
import { renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.env.WASTEX_SUPERGRAPH || join(here, 'supergraph.graphql'));
// mesh-compose picks the output format from the extension, so the temp file ends in .graphql.
const tmp = join(dirname(out), `.supergraph.${process.pid}.tmp.graphql`);

const require = createRequire(import.meta.url);
const bin = join(dirname(require.resolve('@graphql-mesh/compose-cli/package.json')), 'esm', 'bin.js');

const res = spawnSync(
  process.execPath,
  [bin, '--config-path', join(here, 'mesh.config.ts'), '--output', tmp],
  { stdio: 'inherit', cwd: here, env: { ...process.env, WASTEX_SUBGRAPH_DIR: resolveDir() } },
);

function resolveDir() {
  const d = process.env.WASTEX_SUBGRAPH_DIR;
  return d ? resolve(d) : join(here, 'subgraphs');
}

if (res.status !== 0) {
  rmSync(tmp, { force: true });
  console.error(`wastex compose: FAILED (exit ${res.status ?? res.signal}); ${out} left unchanged`);
  process.exit(res.status || 1);
}
renameSync(tmp, out);
console.error(`wastex compose: wrote ${out}`);

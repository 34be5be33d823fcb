import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Creates the embedded PGlite cluster in `dir` in a short-lived child
 * process, when it does not exist yet. PGlite's initdb grows its WebAssembly
 * memory to some 800 MB, which a process never gives back; done in a child,
 * the server process opens a ready cluster and idles at a fraction of that.
 */
export function initEmbeddedCluster(dir: string): void {
  if (existsSync(join(dir, 'PG_VERSION'))) return;
  const pglite = import.meta.resolve('@electric-sql/pglite');
  const script = `const { PGlite } = await import(${JSON.stringify(pglite)}); const db = new PGlite(${JSON.stringify(dir)}); await db.waitReady; await db.close();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 || !existsSync(join(dir, 'PG_VERSION'))) {
    throw new Error(`could not create the embedded database in ${dir}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  }
}

import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import { migrationSource } from './migrations/index.ts';
import { initEmbeddedCluster } from './pglite-initdb.ts';

export type Db = Knex;

/**
 * Opens the database: PostgreSQL when `url` is set, otherwise the embedded
 * PGlite database in `<dataDir>/pglite` (or in memory when dataDir is null).
 * One SQL dialect and one set of migrations serve both.
 */
export function openDatabase({ url, dataDir, poolMax = 10 }: { url: string; dataDir: string | null; poolMax?: number }): Db {
  if (url) {
    return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: poolMax } });
  }
  let connection: object = {};
  if (dataDir) {
    const dir = join(dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    const release = lockEmbeddedDatabase(dir);
    try {
      initEmbeddedCluster(dir);
    } catch (e) {
      release();
      throw e;
    }
    connection = { filename: dir };
    const db = knexFactory({ client: ClientPgLite as unknown as typeof knexFactory.Client, dialect: 'postgres', connection } as Knex.Config);
    releases.set(db, release);
    return db;
  }
  return knexFactory({ client: ClientPgLite as unknown as typeof knexFactory.Client, dialect: 'postgres', connection } as Knex.Config);
}

const releases = new WeakMap<Db, () => void>();

/** Closes the database and, for PGlite, gives up the data directory. */
export async function closeDatabase(db: Db): Promise<void> {
  await db.destroy();
  releases.get(db)?.();
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
};

/**
 * PGlite is one process's database: a second process opening the same
 * directory would corrupt it. A pid file refuses that with a clear message.
 */
function lockEmbeddedDatabase(dir: string): () => void {
  const lock = join(dir, 'nubo.pid');
  try {
    const holder = Number(readFileSync(lock, 'utf8'));
    if (holder && holder !== process.pid && alive(holder)) {
      throw new Error(
        `the embedded database in ${dir} is in use by process ${holder}; stop that process first, or use PostgreSQL (database.url) to run several Nubo processes`,
      );
    }
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
  }
  writeFileSync(lock, String(process.pid));
  const release = () => {
    process.off('exit', release);
    rmSync(lock, { force: true });
  };
  process.on('exit', release);
  return release;
}

/** Applies every pending migration; returns the names applied. */
export async function migrate(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

export const isPostgresUniqueViolation = (e: unknown) => (e as { code?: string })?.code === '23505';
export const isPostgresForeignKeyViolation = (e: unknown) => (e as { code?: string })?.code === '23503';

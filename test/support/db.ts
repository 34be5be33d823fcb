import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { openDatabase, migrate, type Db } from '../../lib/db/index.ts';

/** PostgreSQL server the tests use; NUBO_TEST_POSTGRES_URL overrides. */
export const testPostgresAdminUrl = process.env.NUBO_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  kind: 'pglite' | 'postgres';
  db: Db;
  /** The URL of the fresh PostgreSQL database ('' for PGlite). */
  url: string;
  drop(): Promise<void>;
}

/** A migrated in-memory PGlite database. */
export async function pgliteDatabase(): Promise<TestDatabase> {
  const db = openDatabase({ url: '', dataDir: null });
  await migrate(db);
  return { kind: 'pglite', db, url: '', drop: () => db.destroy() };
}

/** A fresh, migrated PostgreSQL database, dropped again by drop(). */
export async function postgresDatabase(): Promise<TestDatabase> {
  const name = `nubo_test_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: testPostgresAdminUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  const url = new URL(testPostgresAdminUrl);
  url.pathname = `/${name}`;
  const db = openDatabase({ url: url.toString(), dataDir: null, poolMax: 10 });
  await migrate(db);
  return {
    kind: 'postgres',
    db,
    url: url.toString(),
    drop: async () => {
      await db.destroy();
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}

/** Both engines, for suites that must pass on each. */
export const databaseEngines: [string, () => Promise<TestDatabase>][] = [
  ['PGlite', pgliteDatabase],
  ['PostgreSQL', postgresDatabase],
];

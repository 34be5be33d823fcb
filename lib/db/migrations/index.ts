import type { Knex } from 'knex';
import * as identity001 from './001_identity.ts';

interface Migration {
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

/** Migrations in order. Append; never edit one that has shipped. */
const migrations: [string, Migration][] = [['001_identity', identity001]];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, m]) => m,
};

import type { Knex } from 'knex';
import * as identity001 from './001_identity.ts';
import * as identity002 from './002_identity_credentials.ts';
import * as identity003 from './003_identity_catalog_extras.ts';
import * as image004 from './004_image.ts';
import * as identity005 from './005_identity_limits.ts';
import * as image006 from './006_image_metadefs.ts';
import * as compute007 from './007_compute_flavors_keypairs.ts';
import * as placement008 from './008_placement.ts';
import * as compute009 from './009_compute_instances.ts';
import * as compute010 from './010_compute_instance_disk_config.ts';
import * as compute011 from './011_compute_migrations.ts';
import * as compute012 from './012_compute_console_auth_tokens.ts';
import * as compute013 from './013_compute_aggregates.ts';

interface Migration {
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

/** Migrations in order. Append; never edit one that has shipped. */
const migrations: [string, Migration][] = [
  ['001_identity', identity001],
  ['002_identity_credentials', identity002],
  ['003_identity_catalog_extras', identity003],
  ['004_image', image004],
  ['005_identity_limits', identity005],
  ['006_image_metadefs', image006],
  ['007_compute_flavors_keypairs', compute007],
  ['008_placement', placement008],
  ['009_compute_instances', compute009],
  ['010_compute_instance_disk_config', compute010],
  ['011_compute_migrations', compute011],
  ['012_compute_console_auth_tokens', compute012],
  ['013_compute_aggregates', compute013],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, m]) => m,
};

import type { Knex } from 'knex';

/**
 * Nova's API database tables for flavors, key pairs and quotas.
 *
 * - flavors: `id` is the internal key (a sort key Nova exposes); `flavorid` is
 *   the id clients see (a UUID, an integer's text, any string) and unique, as
 *   is `name`. Extra specs and the projects a private flavor is shared with go
 *   with their flavor (cascade).
 * - key_pairs: a user's keys, names unique per user; `id` is shown as an
 *   integer by GET /os-keypairs/{name}.
 * - quotas: a project's limits (`user_id` '') and per-user limits within a
 *   project; quota_classes: the `default` class (and others) that stand in
 *   for the configured defaults. A resource with no row has its default.
 */
/** created_at (set on insert) and updated_at (null until a change), as Nova's tables have them. */
function timestamps(db: Knex, t: Knex.CreateTableBuilder): void {
  t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  t.timestamp('updated_at', { useTz: true }).nullable();
}

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('flavors', (t) => {
    t.increments('id').primary();
    t.string('flavorid', 255).notNullable().unique();
    t.string('name', 255).notNullable().unique();
    t.integer('memory_mb').notNullable();
    t.integer('vcpus').notNullable();
    t.integer('root_gb').notNullable().defaultTo(0);
    t.integer('ephemeral_gb').notNullable().defaultTo(0);
    t.integer('swap').notNullable().defaultTo(0);
    t.double('rxtx_factor').notNullable().defaultTo(1.0);
    t.integer('vcpu_weight').nullable();
    t.boolean('disabled').notNullable().defaultTo(false);
    t.boolean('is_public').notNullable().defaultTo(true);
    t.text('description').nullable();
    timestamps(db, t);
  });

  await db.schema.createTable('flavor_extra_specs', (t) => {
    t.integer('flavor_id').notNullable().references('flavors.id').onDelete('CASCADE');
    t.string('key', 255).notNullable();
    t.string('value', 255).notNullable();
    t.primary(['flavor_id', 'key']);
  });

  await db.schema.createTable('flavor_projects', (t) => {
    t.integer('flavor_id').notNullable().references('flavors.id').onDelete('CASCADE');
    t.string('project_id', 255).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.primary(['flavor_id', 'project_id']);
    t.index(['project_id']);
  });

  await db.schema.createTable('key_pairs', (t) => {
    t.increments('id').primary();
    t.string('user_id', 255).notNullable();
    t.string('name', 255).notNullable();
    t.string('type', 16).notNullable().defaultTo('ssh');
    t.string('fingerprint', 255).notNullable();
    t.text('public_key').notNullable();
    timestamps(db, t);
    t.unique(['user_id', 'name']);
  });

  await db.schema.createTable('quotas', (t) => {
    t.increments('id').primary();
    t.string('project_id', 255).notNullable();
    /** '' for the project's own limit; a user id for that user's limit within the project. */
    t.string('user_id', 255).notNullable().defaultTo('');
    t.string('resource', 255).notNullable();
    t.integer('hard_limit').notNullable();
    timestamps(db, t);
    t.unique(['project_id', 'user_id', 'resource']);
  });

  await db.schema.createTable('quota_classes', (t) => {
    t.string('class_name', 255).notNullable();
    t.string('resource', 255).notNullable();
    t.integer('hard_limit').notNullable();
    timestamps(db, t);
    t.primary(['class_name', 'resource']);
  });
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['quota_classes', 'quotas', 'key_pairs', 'flavor_projects', 'flavor_extra_specs', 'flavors']) {
    await db.schema.dropTable(table);
  }
}

import type { Knex } from 'knex';

/**
 * Keystone's unified limits: registered limits (a service's default for a
 * resource, optionally per region) and limits (a project's or domain's
 * override of one registered limit).
 *
 * A limit names its registered limit, and takes its service, region and
 * resource name from it, as in Keystone. Everything goes with what it names
 * (ON DELETE CASCADE): deleting a project or domain deletes its limits,
 * deleting a service or region its registered limits and their limits. The
 * API itself refuses to delete or change a registered limit that limits
 * refer to (403, as Keystone).
 */
export async function up(db: Knex): Promise<void> {
  const ts = (t: Knex.CreateTableBuilder) => {
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  };

  await db.schema.createTable('registered_limits', (t) => {
    t.string('id', 64).primary();
    t.string('service_id', 64).notNullable().references('services.id').onDelete('CASCADE');
    t.string('region_id', 255).nullable().references('regions.id').onDelete('CASCADE');
    t.string('resource_name', 255).notNullable();
    t.integer('default_limit').notNullable();
    t.text('description').nullable();
    ts(t);
    t.index(['region_id']);
  });
  // One registered limit per (service, region, resource); a region-less one
  // counts once too (NULLs are distinct in a plain unique index).
  await db.raw(
    'CREATE UNIQUE INDEX registered_limits_service_region_resource_unique ON registered_limits (service_id, region_id, resource_name) WHERE region_id IS NOT NULL',
  );
  await db.raw(
    'CREATE UNIQUE INDEX registered_limits_service_resource_unique ON registered_limits (service_id, resource_name) WHERE region_id IS NULL',
  );

  await db.schema.createTable('limits', (t) => {
    t.string('id', 64).primary();
    t.string('registered_limit_id', 64).notNullable().references('registered_limits.id').onDelete('CASCADE');
    t.string('project_id', 64).nullable().references('projects.id').onDelete('CASCADE');
    t.string('domain_id', 64).nullable().references('domains.id').onDelete('CASCADE');
    t.integer('resource_limit').notNullable();
    t.text('description').nullable();
    ts(t);
    t.unique(['registered_limit_id', 'project_id']);
    t.unique(['registered_limit_id', 'domain_id']);
    t.index(['project_id']);
    t.index(['domain_id']);
    t.check('(project_id IS NULL) <> (domain_id IS NULL)', [], 'limits_project_xor_domain');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('limits');
  await db.schema.dropTableIfExists('registered_limits');
}

import type { Knex } from 'knex';

/**
 * Keystone's lesser catalog and domain data: stored policy blobs
 * (/v3/policies), OS-EP-FILTER endpoint groups and project–endpoint
 * associations, and domain-specific configuration. Associations and
 * configuration go with the project, endpoint, endpoint group or domain they
 * name (ON DELETE CASCADE), so deleting one leaves nothing dangling.
 */
export async function up(db: Knex): Promise<void> {
  const ts = (t: Knex.CreateTableBuilder) => {
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  };

  await db.schema.createTable('policies', (t) => {
    t.string('id', 64).primary();
    t.string('type', 255).notNullable();
    t.text('blob').notNullable();
    t.jsonb('extra').notNullable().defaultTo('{}');
    ts(t);
    t.index(['type']);
  });

  // filters: an object of endpoint attributes (interface, service_id,
  // region_id) an endpoint must all match to be in the group.
  await db.schema.createTable('endpoint_groups', (t) => {
    t.string('id', 64).primary();
    t.string('name', 255).notNullable();
    t.text('description').nullable();
    t.jsonb('filters').notNullable();
    ts(t);
  });

  await db.schema.createTable('project_endpoint_groups', (t) => {
    t.string('endpoint_group_id', 64).notNullable().references('endpoint_groups.id').onDelete('CASCADE');
    t.string('project_id', 64).notNullable().references('projects.id').onDelete('CASCADE');
    t.primary(['endpoint_group_id', 'project_id']);
    t.index(['project_id']);
  });

  await db.schema.createTable('project_endpoints', (t) => {
    t.string('endpoint_id', 64).notNullable().references('endpoints.id').onDelete('CASCADE');
    t.string('project_id', 64).notNullable().references('projects.id').onDelete('CASCADE');
    t.primary(['endpoint_id', 'project_id']);
    t.index(['project_id']);
  });

  // One row per option; sensitive options (ldap.password) are never shown.
  await db.schema.createTable('domain_configs', (t) => {
    t.string('domain_id', 64).notNullable().references('domains.id').onDelete('CASCADE');
    t.string('group', 255).notNullable();
    t.string('option', 255).notNullable();
    t.jsonb('value').notNullable();
    t.boolean('sensitive').notNullable().defaultTo(false);
    t.primary(['domain_id', 'group', 'option']);
  });
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['domain_configs', 'project_endpoints', 'project_endpoint_groups', 'endpoint_groups', 'policies']) {
    await db.schema.dropTableIfExists(table);
  }
}

import type { Knex } from 'knex';

/**
 * Keystone's data: domains, projects, users, groups, roles, assignments,
 * application credentials, the catalog, token signing keys and revocations.
 * Ids are 32-hex-character strings as Keystone makes them.
 */
export async function up(db: Knex): Promise<void> {
  const ts = (t: Knex.CreateTableBuilder) => {
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  };

  await db.schema.createTable('domains', (t) => {
    t.string('id', 64).primary();
    t.string('name', 255).notNullable().unique();
    t.text('description').notNullable().defaultTo('');
    t.boolean('enabled').notNullable().defaultTo(true);
    t.jsonb('extra').notNullable().defaultTo('{}');
    ts(t);
  });

  await db.schema.createTable('projects', (t) => {
    t.string('id', 64).primary();
    t.string('name', 64).notNullable();
    t.string('domain_id', 64).notNullable().references('domains.id');
    t.string('parent_id', 64).nullable().references('projects.id');
    t.text('description').notNullable().defaultTo('');
    t.boolean('enabled').notNullable().defaultTo(true);
    t.jsonb('extra').notNullable().defaultTo('{}');
    ts(t);
    t.unique(['domain_id', 'name']);
    t.index(['parent_id']);
  });

  await db.schema.createTable('project_tags', (t) => {
    t.string('project_id', 64).notNullable().references('projects.id').onDelete('CASCADE');
    t.string('name', 255).notNullable();
    t.primary(['project_id', 'name']);
  });

  await db.schema.createTable('users', (t) => {
    t.string('id', 64).primary();
    t.string('name', 255).notNullable();
    t.string('domain_id', 64).notNullable().references('domains.id');
    t.boolean('enabled').notNullable().defaultTo(true);
    t.string('default_project_id', 64).nullable();
    t.text('description').nullable();
    t.text('password_hash').nullable();
    t.timestamp('password_created_at', { useTz: true }).nullable();
    t.timestamp('password_expires_at', { useTz: true }).nullable();
    t.integer('failed_auth_count').notNullable().defaultTo(0);
    t.timestamp('failed_auth_at', { useTz: true }).nullable();
    t.timestamp('last_active_at', { useTz: true }).nullable();
    t.jsonb('options').notNullable().defaultTo('{}');
    t.jsonb('extra').notNullable().defaultTo('{}');
    ts(t);
    t.unique(['domain_id', 'name']);
  });

  await db.schema.createTable('groups', (t) => {
    t.string('id', 64).primary();
    t.string('name', 255).notNullable();
    t.string('domain_id', 64).notNullable().references('domains.id');
    t.text('description').notNullable().defaultTo('');
    t.jsonb('extra').notNullable().defaultTo('{}');
    ts(t);
    t.unique(['domain_id', 'name']);
  });

  await db.schema.createTable('user_group_membership', (t) => {
    t.string('user_id', 64).notNullable().references('users.id').onDelete('CASCADE');
    t.string('group_id', 64).notNullable().references('groups.id').onDelete('CASCADE');
    t.primary(['user_id', 'group_id']);
    t.index(['group_id']);
  });

  await db.schema.createTable('roles', (t) => {
    t.string('id', 64).primary();
    t.string('name', 255).notNullable();
    // '' for a global role, a domain id for a domain-specific role.
    t.string('domain_id', 64).notNullable().defaultTo('');
    t.text('description').nullable();
    t.jsonb('options').notNullable().defaultTo('{}');
    t.jsonb('extra').notNullable().defaultTo('{}');
    ts(t);
    t.unique(['name', 'domain_id']);
  });

  await db.schema.createTable('implied_roles', (t) => {
    t.string('prior_role_id', 64).notNullable().references('roles.id').onDelete('CASCADE');
    t.string('implied_role_id', 64).notNullable().references('roles.id').onDelete('CASCADE');
    t.primary(['prior_role_id', 'implied_role_id']);
  });

  // One row per grant. type: UserProject, GroupProject, UserDomain,
  // GroupDomain, UserSystem, GroupSystem; target_id is 'system' for system.
  await db.schema.createTable('assignments', (t) => {
    t.string('type', 16).notNullable();
    t.string('actor_id', 64).notNullable();
    t.string('target_id', 64).notNullable();
    t.string('role_id', 64).notNullable().references('roles.id').onDelete('CASCADE');
    t.boolean('inherited').notNullable().defaultTo(false);
    t.primary(['type', 'actor_id', 'target_id', 'role_id', 'inherited']);
    t.index(['actor_id']);
    t.index(['target_id']);
    t.index(['role_id']);
  });

  await db.schema.createTable('application_credentials', (t) => {
    t.string('id', 64).primary();
    t.string('name', 255).notNullable();
    t.string('user_id', 64).notNullable().references('users.id').onDelete('CASCADE');
    t.string('project_id', 64).nullable();
    t.text('secret_hash').notNullable();
    t.text('description').nullable();
    t.timestamp('expires_at', { useTz: true }).nullable();
    t.boolean('unrestricted').notNullable().defaultTo(false);
    t.jsonb('access_rules').notNullable().defaultTo('[]');
    ts(t);
    t.unique(['user_id', 'name']);
  });

  await db.schema.createTable('application_credential_roles', (t) => {
    t.string('application_credential_id', 64).notNullable().references('application_credentials.id').onDelete('CASCADE');
    t.string('role_id', 64).notNullable();
    t.primary(['application_credential_id', 'role_id']);
  });

  await db.schema.createTable('regions', (t) => {
    t.string('id', 255).primary();
    t.text('description').notNullable().defaultTo('');
    t.string('parent_region_id', 255).nullable().references('regions.id');
    t.jsonb('extra').notNullable().defaultTo('{}');
    ts(t);
  });

  await db.schema.createTable('services', (t) => {
    t.string('id', 64).primary();
    t.string('type', 255).notNullable();
    t.string('name', 255).nullable();
    t.text('description').nullable();
    t.boolean('enabled').notNullable().defaultTo(true);
    t.jsonb('extra').notNullable().defaultTo('{}');
    ts(t);
  });

  await db.schema.createTable('endpoints', (t) => {
    t.string('id', 64).primary();
    t.string('service_id', 64).notNullable().references('services.id');
    t.string('region_id', 255).nullable().references('regions.id');
    t.string('interface', 8).notNullable();
    t.text('url').notNullable();
    t.boolean('enabled').notNullable().defaultTo(true);
    t.jsonb('extra').notNullable().defaultTo('{}');
    ts(t);
    t.index(['service_id']);
  });

  // Token signing keys, rotated as Keystone rotates Fernet keys:
  // state is 'staged' (next primary), 'primary' (signs), 'secondary' (verifies).
  await db.schema.createTable('signing_keys', (t) => {
    t.string('kid', 64).primary();
    t.string('state', 16).notNullable();
    t.text('private_pem').notNullable();
    t.text('public_pem').notNullable();
    t.string('algorithm', 16).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('promoted_at', { useTz: true }).nullable();
  });

  // A token is revoked when an event matches every non-null field it names
  // and the token was issued at or before issued_before.
  await db.schema.createTable('revocation_events', (t) => {
    t.bigIncrements('id').primary();
    t.string('audit_id', 64).nullable();
    t.string('user_id', 64).nullable();
    t.string('project_id', 64).nullable();
    t.string('domain_id', 64).nullable();
    t.string('role_id', 64).nullable();
    t.string('application_credential_id', 64).nullable();
    t.timestamp('issued_before', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.index(['revoked_at']);
  });
}

export async function down(db: Knex): Promise<void> {
  for (const table of [
    'revocation_events', 'signing_keys', 'endpoints', 'services', 'regions', 'application_credential_roles',
    'application_credentials', 'assignments', 'implied_roles', 'roles', 'user_group_membership', 'groups',
    'users', 'project_tags', 'projects', 'domains',
  ]) {
    await db.schema.dropTableIfExists(table);
  }
}

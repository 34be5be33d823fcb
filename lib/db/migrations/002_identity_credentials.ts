import type { Knex } from 'knex';

/**
 * Keystone's stored credentials (/v3/credentials, and the OS-EC2 extension's
 * access/secret pairs, which are credentials of type 'ec2' whose id is the
 * sha256 of the access key) and OS-OAUTH1 consumers.
 *
 * A credential goes with its user and its project (ON DELETE CASCADE), as
 * Keystone deletes a user's or a project's credentials with it. Its blob is
 * the client's JSON string as given; it holds secrets, so it is never logged.
 * A consumer's secret is kept only as a hash: it is shown once, on creation.
 */
export async function up(db: Knex): Promise<void> {
  const ts = (t: Knex.CreateTableBuilder) => {
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  };

  await db.schema.createTable('credentials', (t) => {
    t.string('id', 64).primary();
    t.string('user_id', 64).notNullable().references('users.id').onDelete('CASCADE');
    t.string('project_id', 64).nullable().references('projects.id').onDelete('CASCADE');
    t.string('type', 255).notNullable();
    t.text('blob').notNullable();
    t.jsonb('extra').notNullable().defaultTo('{}');
    ts(t);
    t.index(['user_id', 'type']);
    t.index(['project_id']);
  });

  await db.schema.createTable('oauth1_consumers', (t) => {
    t.string('id', 64).primary();
    t.text('description').nullable();
    t.text('secret_hash').notNullable();
    t.jsonb('extra').notNullable().defaultTo('{}');
    ts(t);
  });
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['oauth1_consumers', 'credentials']) {
    await db.schema.dropTableIfExists(table);
  }
}

import type { Knex } from 'knex';

/**
 * Remote consoles' one-time tokens (Nova's console_auth_tokens): only the
 * sha256 of a token is kept; a token is deleted when the proxy uses it.
 * host/port/internal_access_path are the compute agent's console listener
 * and the one-time secret it expects (agent/console-listener.ts).
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('console_auth_tokens', (t) => {
    t.increments('id').primary();
    t.string('token_hash', 64).notNullable().unique();
    /** novnc or serial. */
    t.string('console_type', 255).notNullable();
    t.string('host', 255).notNullable();
    t.integer('port').notNullable();
    t.string('internal_access_path', 255).nullable();
    t.string('instance_uuid', 36).notNullable().index();
    /** The compute host the instance was on. */
    t.string('compute_host', 255).nullable();
    t.timestamp('expires', { useTz: true }).notNullable().index();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('console_auth_tokens');
}

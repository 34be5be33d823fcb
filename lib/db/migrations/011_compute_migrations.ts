import type { Knex } from 'knex';

/**
 * Nova's migrations: one row per move of an instance (resize, cold
 * migration). It names the source and destination, both flavors, and the
 * status the move is in (pre-migrating → migrating → post-migrating →
 * finished → confirming → confirmed, or reverting → reverted, or error,
 * then failed once its source dropped what it kept: scheduler/conductor/
 * move-cleanup.ts). In
 * placement the row's uuid is the consumer holding the source host's
 * resources (the old flavor) while the instance claims the new flavor on the
 * destination. old/new vcpus and memory are denormalised for quota usage: a
 * resize counts the growth from the moment the API accepts it.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('migrations', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('uuid').notNullable().unique();
    t.uuid('instance_uuid').notNullable().references('instances.uuid').onDelete('CASCADE');
    t.string('project_id', 255).notNullable();
    t.string('user_id', 255).notNullable();
    /** resize or migration (same flavor, another host). */
    t.string('migration_type', 16).notNullable();
    t.string('status', 20).notNullable();
    t.string('source_compute', 255).nullable();
    t.string('source_node', 255).nullable();
    t.string('dest_compute', 255).nullable();
    t.string('dest_node', 255).nullable();
    t.jsonb('old_flavor').notNullable();
    t.jsonb('new_flavor').notNullable();
    t.integer('old_vcpus').notNullable();
    t.integer('new_vcpus').notNullable();
    t.integer('old_memory_mb').notNullable();
    t.integer('new_memory_mb').notNullable();
    /** The vm_state to go back to (active or stopped) on confirm, revert or a failure before the guest moved. */
    t.string('old_vm_state', 30).notNullable();
    /** The request id of the resize/migrate action (the conductor and agents record events under it). */
    t.string('request_id', 255).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.index(['instance_uuid']);
    t.index(['status']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('migrations');
}

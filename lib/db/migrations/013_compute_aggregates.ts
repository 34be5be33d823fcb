import type { Knex } from 'knex';

/**
 * Host aggregates (Nova's aggregates, aggregate_hosts, aggregate_metadata):
 * named groups of compute hosts with key/value metadata. The metadata key
 * `availability_zone` puts the aggregate's hosts in that zone. Hosts are
 * named as compute services name them (no foreign key, as in Nova: a host
 * stays listed after its service is gone until removed).
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('aggregates', (t) => {
    t.increments('id').primary();
    t.string('uuid', 36).notNullable().unique();
    t.string('name', 255).notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    /** Null until the aggregate is first changed, as Nova's. */
    t.timestamp('updated_at', { useTz: true }).nullable();
  });
  await db.schema.createTable('aggregate_hosts', (t) => {
    t.increments('id').primary();
    t.integer('aggregate_id').notNullable().references('id').inTable('aggregates').onDelete('CASCADE');
    t.string('host', 255).notNullable().index();
    t.unique(['aggregate_id', 'host']);
  });
  await db.schema.createTable('aggregate_metadata', (t) => {
    t.integer('aggregate_id').notNullable().references('id').inTable('aggregates').onDelete('CASCADE');
    t.string('key', 255).notNullable();
    t.string('value', 255).notNullable();
    t.primary(['aggregate_id', 'key']);
    t.index(['key', 'value']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('aggregate_metadata');
  await db.schema.dropTable('aggregate_hosts');
  await db.schema.dropTable('aggregates');
}

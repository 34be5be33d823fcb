import type { Knex } from 'knex';

/**
 * Glance's images and image members. An image row is never removed: a
 * deleted image keeps its id (status 'deleted', deleted_at set) so the id
 * cannot be reused, as Glance does. Extra properties live in `properties`
 * (a JSON object of strings) and tags in `tags` (a JSON array), both
 * filterable with jsonb operators. While data is written, `upload_heartbeat_at`
 * is refreshed by the writing process; a 'saving' image whose heartbeat went
 * stale belongs to a process that died, and goes back to 'queued'.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('images', (t) => {
    t.uuid('id').primary();
    t.string('name', 255).nullable();
    t.string('owner', 255).nullable();
    t.string('status', 30).notNullable();
    t.string('visibility', 20).notNullable();
    t.boolean('protected').notNullable().defaultTo(false);
    t.boolean('os_hidden').notNullable().defaultTo(false);
    t.string('disk_format', 20).nullable();
    t.string('container_format', 20).nullable();
    t.integer('min_disk').notNullable().defaultTo(0);
    t.integer('min_ram').notNullable().defaultTo(0);
    t.bigInteger('size').nullable();
    t.bigInteger('virtual_size').nullable();
    t.string('checksum', 32).nullable();
    t.string('os_hash_algo', 64).nullable();
    t.string('os_hash_value', 128).nullable();
    t.jsonb('properties').notNullable().defaultTo('{}');
    t.jsonb('tags').notNullable().defaultTo('[]');
    /** Where the data is in the store (a key the store understands), once active. */
    t.text('location').nullable();
    /** The staged data of an interoperable import, while it waits for import. */
    t.text('staging_location').nullable();
    /** Bytes staged, counted against image_stage_total until the import ends. */
    t.bigInteger('staged_size').nullable();
    t.timestamp('upload_heartbeat_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('deleted_at', { useTz: true }).nullable();
    t.index(['owner']);
    t.index(['status']);
    t.index(['visibility']);
    t.index(['created_at', 'id']);
  });

  await db.schema.createTable('image_members', (t) => {
    t.uuid('image_id').notNullable().references('images.id').onDelete('CASCADE');
    t.string('member_id', 255).notNullable();
    t.string('status', 20).notNullable().defaultTo('pending');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.primary(['image_id', 'member_id']);
    t.index(['member_id']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('image_members');
  await db.schema.dropTable('images');
}

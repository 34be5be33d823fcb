import type { Knex } from 'knex';

/**
 * Glance's metadata definitions catalog ("metadefs"): namespaces, and in
 * each its objects, properties, tags and associations with resource types.
 * A namespace's name is unique across all projects; every name inside a
 * namespace is unique within it. Deleting a namespace deletes its content
 * (the foreign keys cascade). Property definitions are kept as the JSON
 * schema fragment the client gave (`schema`, an object's `properties`).
 *
 * The resource types Glance's own metadefs refer to are seeded (protected,
 * as `glance-manage db load_metadefs` makes them); associating a namespace
 * with an unknown resource type creates that type.
 */
export const SEEDED_RESOURCE_TYPES = [
  'OS::Glance::Image',
  'OS::Cinder::Volume',
  'OS::Nova::Flavor',
  'OS::Nova::Aggregate',
  'OS::Nova::Server',
  'OS::Trove::Instance',
];

function timestamps(db: Knex, t: Knex.CreateTableBuilder): void {
  t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
}

/** A table of things named uniquely within a namespace. */
function namespaceContent(db: Knex, t: Knex.CreateTableBuilder): void {
  t.increments('id').primary();
  t.integer('namespace_id').notNullable().references('metadef_namespaces.id').onDelete('CASCADE');
  t.string('name', 80).notNullable();
  t.unique(['namespace_id', 'name']);
}

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('metadef_namespaces', (t) => {
    t.increments('id').primary();
    t.string('namespace', 80).notNullable().unique();
    t.string('display_name', 80).nullable();
    t.text('description').nullable();
    t.string('visibility', 32).notNullable().defaultTo('private');
    t.boolean('protected').notNullable().defaultTo(false);
    t.string('owner', 255).nullable();
    timestamps(db, t);
    t.index(['owner']);
    t.index(['created_at', 'id']);
  });

  await db.schema.createTable('metadef_resource_types', (t) => {
    t.increments('id').primary();
    t.string('name', 80).notNullable().unique();
    t.boolean('protected').notNullable().defaultTo(false);
    timestamps(db, t);
  });

  await db.schema.createTable('metadef_namespace_resource_types', (t) => {
    t.integer('resource_type_id').notNullable().references('metadef_resource_types.id');
    t.integer('namespace_id').notNullable().references('metadef_namespaces.id').onDelete('CASCADE');
    t.string('properties_target', 80).nullable();
    t.string('prefix', 80).nullable();
    timestamps(db, t);
    t.primary(['resource_type_id', 'namespace_id']);
    t.index(['namespace_id']);
  });

  await db.schema.createTable('metadef_objects', (t) => {
    namespaceContent(db, t);
    t.text('description').nullable();
    t.jsonb('required').notNullable().defaultTo('[]');
    t.jsonb('properties').notNullable().defaultTo('{}');
    timestamps(db, t);
  });

  await db.schema.createTable('metadef_properties', (t) => {
    namespaceContent(db, t);
    t.jsonb('schema').notNullable();
    timestamps(db, t);
  });

  await db.schema.createTable('metadef_tags', (t) => {
    namespaceContent(db, t);
    timestamps(db, t);
  });

  await db('metadef_resource_types').insert(SEEDED_RESOURCE_TYPES.map((name) => ({ name, protected: true })));
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['metadef_tags', 'metadef_properties', 'metadef_objects', 'metadef_namespace_resource_types', 'metadef_resource_types', 'metadef_namespaces']) {
    await db.schema.dropTable(table);
  }
}

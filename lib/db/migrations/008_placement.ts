import type { Knex } from 'knex';

/**
 * Compute services and nodes, and Placement's resource providers,
 * inventories and allocations.
 *
 * - `compute_services`: one row per (host, binary), as Nova's services table:
 *   enabled/disabled, forced down, and the last heartbeat (`last_seen_up`)
 *   that decides whether the service is up.
 * - `compute_nodes`: the hypervisor a compute service drives (what
 *   os-hypervisors shows). Its `uuid` is also the uuid of its resource
 *   provider, as in Nova.
 * - `resource_providers`: what can be allocated from; `generation` is bumped
 *   by every change of its inventory or allocations, so a writer that read a
 *   provider can tell whether it changed since.
 * - `inventories`: per provider and resource class (VCPU, MEMORY_MB,
 *   DISK_GB), capacity = (total − reserved) × allocation_ratio.
 * - `allocations`: what a consumer (an instance, or a migration holding the
 *   source side of a move) uses of a provider's inventory. The foreign key to
 *   the inventory row refuses to delete inventory that is in use.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('compute_services', (t) => {
    t.increments('id').primary();
    t.string('uuid', 36).notNullable().unique();
    t.string('host', 255).notNullable();
    t.string('binary', 255).notNullable();
    t.boolean('disabled').notNullable().defaultTo(false);
    t.string('disabled_reason', 255).nullable();
    t.boolean('forced_down').notNullable().defaultTo(false);
    t.timestamp('last_seen_up', { useTz: true }).nullable();
    t.integer('report_count').notNullable().defaultTo(0);
    t.string('availability_zone', 255).notNullable().defaultTo('nova');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.unique(['host', 'binary']);
  });

  await db.schema.createTable('compute_nodes', (t) => {
    t.increments('id').primary();
    t.string('uuid', 36).notNullable().unique();
    t.integer('service_id').notNullable().references('compute_services.id').onDelete('CASCADE');
    t.string('host', 255).notNullable();
    t.string('hypervisor_hostname', 255).notNullable();
    t.string('hypervisor_type', 255).notNullable();
    t.bigInteger('hypervisor_version').notNullable().defaultTo(0);
    t.integer('vcpus').notNullable().defaultTo(0);
    t.integer('memory_mb').notNullable().defaultTo(0);
    t.integer('local_gb').notNullable().defaultTo(0);
    t.jsonb('cpu_info').notNullable().defaultTo('{}');
    t.string('host_ip', 64).nullable();
    /** [[architecture, hypervisor type, vm mode], …] the node can run, for ImagePropertiesFilter. */
    t.jsonb('supported_instances').notNullable().defaultTo('[]');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.unique(['host', 'hypervisor_hostname']);
    t.index(['service_id']);
  });

  await db.schema.createTable('resource_providers', (t) => {
    t.increments('id').primary();
    t.string('uuid', 36).notNullable().unique();
    t.string('name', 200).notNullable().unique();
    t.integer('generation').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  });

  await db.schema.createTable('inventories', (t) => {
    t.integer('provider_id').notNullable().references('resource_providers.id').onDelete('CASCADE');
    t.string('resource_class', 255).notNullable();
    t.integer('total').notNullable();
    t.integer('reserved').notNullable().defaultTo(0);
    t.integer('min_unit').notNullable().defaultTo(1);
    t.integer('max_unit').notNullable();
    t.integer('step_size').notNullable().defaultTo(1);
    t.double('allocation_ratio').notNullable().defaultTo(1);
    t.primary(['provider_id', 'resource_class']);
  });

  await db.schema.createTable('allocations', (t) => {
    t.bigIncrements('id').primary();
    t.integer('provider_id').notNullable();
    t.string('resource_class', 255).notNullable();
    t.string('consumer_id', 36).notNullable();
    t.integer('used').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.foreign(['provider_id', 'resource_class']).references(['provider_id', 'resource_class']).inTable('inventories');
    t.unique(['consumer_id', 'provider_id', 'resource_class']);
    t.index(['provider_id', 'resource_class']);
  });
  await db.raw('alter table allocations add constraint allocations_used_positive check (used > 0)');
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('allocations');
  await db.schema.dropTable('inventories');
  await db.schema.dropTable('resource_providers');
  await db.schema.dropTable('compute_nodes');
  await db.schema.dropTable('compute_services');
}

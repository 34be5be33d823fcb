import type { Knex } from 'knex';

/**
 * Nova's instances and what hangs off them: instance actions and their
 * events, server groups and their members, and a per-project row the create
 * path locks so that concurrent creates count quota usage one at a time.
 *
 * An instance row is soft-deleted (deleted_at set, vm_state 'deleted') as
 * Nova does, so GET of a deleted server can answer 404 and `changes-since`
 * can list it as DELETED. The flavor, image metadata and request are copied
 * into the row at create time: later flavor or image changes do not alter a
 * running server, and the conductor can reschedule from the row alone.
 */
export async function up(db: Knex): Promise<void> {
  const ts = (t: Knex.CreateTableBuilder) => {
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
  };

  await db.schema.createTable('instances', (t) => {
    t.uuid('uuid').primary();
    t.string('display_name', 255).notNullable();
    t.text('display_description').nullable();
    t.string('project_id', 255).notNullable();
    t.string('user_id', 255).notNullable();
    t.string('hostname', 255).nullable();
    /** Compute host and node once scheduled (null before, and after a failed build). */
    t.string('host', 255).nullable();
    t.string('node', 255).nullable();
    t.string('launched_on', 255).nullable();
    t.string('availability_zone', 255).nullable();
    /** Copied at create: id, name, vcpus, ram, disk, ephemeral, swap, extra_specs… */
    t.jsonb('flavor').notNullable();
    /** Denormalised from the flavor for quota usage sums. */
    t.integer('vcpus').notNullable();
    t.integer('memory_mb').notNullable();
    t.integer('root_gb').notNullable();
    t.string('image_ref', 255).nullable();
    t.jsonb('image_meta').notNullable().defaultTo('{}');
    t.string('key_name', 255).nullable();
    t.text('key_data').nullable();
    t.text('user_data').nullable();
    t.boolean('config_drive').notNullable().defaultTo(false);
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.jsonb('system_metadata').notNullable().defaultTo('{}');
    t.jsonb('tags').notNullable().defaultTo('[]');
    t.jsonb('security_groups').notNullable().defaultTo('[]');
    t.jsonb('requested_networks').nullable();
    t.jsonb('block_device_mapping').notNullable().defaultTo('[]');
    /** The scheduling request (hints, group, az, image properties, retry state) the conductor schedules and reschedules from. */
    t.jsonb('request_spec').notNullable().defaultTo('{}');
    t.string('vm_state', 30).notNullable();
    t.string('task_state', 30).nullable();
    t.integer('power_state').notNullable().defaultTo(0);
    t.integer('progress').notNullable().defaultTo(0);
    t.boolean('locked').notNullable().defaultTo(false);
    t.string('locked_by', 20).nullable();
    t.text('locked_reason').nullable();
    t.string('reservation_id', 255).notNullable();
    t.integer('launch_index').notNullable().defaultTo(0);
    t.string('access_ip_v4', 39).nullable();
    t.string('access_ip_v6', 39).nullable();
    /** The latest fault, as Nova shows it on ERROR: {code, message, details, created}. */
    t.jsonb('fault').nullable();
    t.timestamp('launched_at', { useTz: true }).nullable();
    t.timestamp('terminated_at', { useTz: true }).nullable();
    ts(t);
    t.timestamp('deleted_at', { useTz: true }).nullable();
    t.index(['project_id', 'deleted_at']);
    t.index(['host', 'deleted_at']);
    t.index(['reservation_id']);
    t.index(['updated_at']);
    t.index(['created_at', 'uuid']);
  });

  await db.schema.createTable('instance_actions', (t) => {
    t.increments('id').primary();
    t.uuid('instance_uuid').notNullable().references('instances.uuid').onDelete('CASCADE');
    t.string('action', 255).notNullable();
    t.string('request_id', 255).notNullable();
    t.string('user_id', 255).nullable();
    t.string('project_id', 255).nullable();
    t.timestamp('start_time', { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp('finish_time', { useTz: true }).nullable();
    t.text('message').nullable();
    ts(t);
    t.unique(['instance_uuid', 'request_id']);
  });

  await db.schema.createTable('instance_action_events', (t) => {
    t.increments('id').primary();
    t.integer('action_id').notNullable().references('instance_actions.id').onDelete('CASCADE');
    t.string('event', 255).notNullable();
    t.timestamp('start_time', { useTz: true }).nullable();
    t.timestamp('finish_time', { useTz: true }).nullable();
    t.string('result', 255).nullable();
    t.text('traceback').nullable();
    t.string('host', 255).nullable();
    t.text('details').nullable();
    ts(t);
    t.unique(['action_id', 'event']);
  });

  await db.schema.createTable('server_groups', (t) => {
    t.uuid('uuid').primary();
    t.string('name', 255).notNullable();
    t.string('project_id', 255).notNullable();
    t.string('user_id', 255).notNullable();
    /** affinity, anti-affinity, soft-affinity or soft-anti-affinity. */
    t.string('policy', 30).notNullable();
    t.jsonb('rules').notNullable().defaultTo('{}');
    ts(t);
    t.index(['project_id']);
  });

  await db.schema.createTable('server_group_members', (t) => {
    t.uuid('group_uuid').notNullable().references('server_groups.uuid').onDelete('CASCADE');
    t.uuid('instance_uuid').notNullable().references('instances.uuid').onDelete('CASCADE');
    t.primary(['group_uuid', 'instance_uuid']);
    t.unique(['instance_uuid']);
  });

  // One row per project, locked FOR UPDATE while a create counts usage and
  // inserts, so that concurrent creates never exceed a quota.
  await db.schema.createTable('compute_quota_locks', (t) => {
    t.string('project_id', 255).primary();
  });
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['compute_quota_locks', 'server_group_members', 'server_groups', 'instance_action_events', 'instance_actions', 'instances']) {
    await db.schema.dropTable(table);
  }
}

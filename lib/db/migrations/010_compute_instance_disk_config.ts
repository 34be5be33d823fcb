import type { Knex } from 'knex';

/** What the servers API keeps beside 009's instance columns: OS-DCF:diskConfig and trusted image certificates (2.63). */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('instances', (t) => {
    /** OS-DCF:diskConfig AUTO (true) or MANUAL: whether the guest's root partition is grown to the disk. */
    t.boolean('auto_disk_config').notNullable().defaultTo(false);
    /** Trusted image certificate ids (2.63), or null. */
    t.jsonb('trusted_certs').nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('instances', (t) => {
    t.dropColumn('auto_disk_config');
    t.dropColumn('trusted_certs');
  });
}

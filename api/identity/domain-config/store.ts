import type { Db } from '../../../lib/db/index.ts';

/** One option of a domain's configuration (a row of `domain_configs`, less the domain). */
export interface ConfigOptionRow {
  group: string;
  option: string;
  value: unknown;
  sensitive: boolean;
}

/** Which options: all of the domain's, a group's, or one option (group and option). */
export interface OptionSelector {
  group?: string;
  option?: string;
  sensitive?: boolean;
}

function select(db: Db, domainId: string, s: OptionSelector) {
  const q = db('domain_configs').where({ domain_id: domainId });
  if (s.group !== undefined) {
    q.where({ group: s.group });
    if (s.option !== undefined) q.where({ option: s.option });
  }
  if (s.sensitive !== undefined) q.where({ sensitive: s.sensitive });
  return q;
}

export async function listOptions(db: Db, domainId: string, s: OptionSelector = {}): Promise<ConfigOptionRow[]> {
  return select(db, domainId, s).select('group', 'option', 'value', 'sensitive').orderBy(['group', 'option']);
}

const stored = (domainId: string, o: ConfigOptionRow) => ({ domain_id: domainId, ...o, value: JSON.stringify(o.value) });

/** Replaces the domain's whole configuration; returns whether it had any before. */
export async function replaceOptions(db: Db, domainId: string, options: readonly ConfigOptionRow[]): Promise<boolean> {
  return db.transaction(async (trx) => {
    const deleted = await trx('domain_configs').where({ domain_id: domainId }).delete().returning('option');
    if (options.length > 0) await trx('domain_configs').insert(options.map((o) => stored(domainId, o)));
    return deleted.length > 0;
  });
}

/** Sets each option, adding those the domain does not have yet. */
export async function upsertOptions(db: Db, domainId: string, options: readonly ConfigOptionRow[]): Promise<void> {
  if (options.length === 0) return;
  await db('domain_configs')
    .insert(options.map((o) => stored(domainId, o)))
    .onConflict(['domain_id', 'group', 'option'])
    .merge(['value', 'sensitive']);
}

export async function deleteOptions(db: Db, domainId: string, s: OptionSelector = {}): Promise<void> {
  await select(db, domainId, s).delete();
}

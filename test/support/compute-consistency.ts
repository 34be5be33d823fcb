import assert from 'node:assert/strict';
import type { Db } from '../../lib/db/index.ts';

/** What a project's quota usage says (Nova's os-quota-sets detail in_use). */
export interface QuotaInUse {
  instances: number;
  cores: number;
  ram: number;
}

export interface ConsistencyOptions {
  /** The quota usage the API reports for a project, to compare with what exists. */
  quotaInUse?: (projectId: string) => Promise<QuotaInUse>;
  /** Projects whose quota usage is checked even when none of their servers is left. */
  projects?: string[];
}

interface InstanceRow {
  uuid: string;
  project_id: string;
  vm_state: string;
  task_state: string | null;
  host: string | null;
  node: string | null;
  vcpus: number;
  memory_mb: number;
  root_gb: number;
  flavor: { ephemeral_gb?: number; swap?: number } | null;
}

type Usage = Record<string, number>;

/** What an instance of this flavor claims (scheduler/state.ts requestResources, booted from an image). */
const flavorUsage = (i: InstanceRow): Usage => ({
  VCPU: i.vcpus,
  MEMORY_MB: i.memory_mb,
  DISK_GB: i.root_gb + (i.flavor?.ephemeral_gb ?? 0) + Math.ceil((i.flavor?.swap ?? 0) / 1024),
});
const nonZero = (u: Usage): Usage => Object.fromEntries(Object.entries(u).filter(([, v]) => v > 0).sort(([a], [b]) => a.localeCompare(b)));
const add = (into: Usage, u: Usage) => {
  for (const [rc, v] of Object.entries(u)) into[rc] = (into[rc] ?? 0) + v;
};
const same = (a: Usage, b: Usage) => JSON.stringify(nonZero(a)) === JSON.stringify(nonZero(b));

/** Consumers a move holds allocations for (migration records not finished), when there is a migrations table. */
async function liveMigrationConsumers(db: Db): Promise<Set<string>> {
  if (!(await db.schema.hasTable('migrations'))) return new Set();
  const rows: { uuid: string }[] = await db('migrations')
    .select('uuid')
    .whereNotIn('status', ['confirmed', 'reverted', 'error', 'failed', 'completed', 'done', 'cancelled']);
  return new Set(rows.map((r) => r.uuid));
}

/**
 * Everything wrong with the compute state in the database, as sentences
 * (empty when consistent):
 * - every instance that is not deleted is ACTIVE (no task) or ERROR: none
 *   left building or in a task;
 * - each ACTIVE instance has exactly one allocation, on its host's node's
 *   provider, of its flavor's resources; an ERROR one has none, or that one;
 * - no allocation of a consumer that is not a live instance (or a migration
 *   in progress), none of an instance on a provider that is not its node's;
 * - each provider's usage is the sum of its instances' flavors, within its
 *   capacity;
 * - with `quotaInUse`, each project's quota usage equals its instances.
 */
export async function computeProblems(db: Db, opts: ConsistencyOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const instances: InstanceRow[] = await db('instances')
    .select('uuid', 'project_id', 'vm_state', 'task_state', 'host', 'node', 'vcpus', 'memory_mb', 'root_gb', 'flavor')
    .whereNull('deleted_at')
    .whereNot({ vm_state: 'deleted' });
  const byUuid = new Map(instances.map((i) => [i.uuid, i]));
  const nodes: { uuid: string; host: string; hypervisor_hostname: string }[] = await db('compute_nodes').select('uuid', 'host', 'hypervisor_hostname');
  const nodeOf = (host: string | null, node: string | null) => nodes.find((n) => n.host === host && n.hypervisor_hostname === (node ?? host))?.uuid;
  const allocations: { consumer_id: string; provider: string; resource_class: string; used: number }[] = await db('allocations as a')
    .join('resource_providers as p', 'p.id', 'a.provider_id')
    .select('a.consumer_id', 'p.uuid as provider', 'a.resource_class', 'a.used');
  const migrations = await liveMigrationConsumers(db);

  // consumer → provider → usage
  const held = new Map<string, Map<string, Usage>>();
  for (const a of allocations) {
    const byProvider = held.get(a.consumer_id) ?? new Map<string, Usage>();
    held.set(a.consumer_id, byProvider);
    const u = byProvider.get(a.provider) ?? {};
    u[a.resource_class] = (u[a.resource_class] ?? 0) + Number(a.used);
    byProvider.set(a.provider, u);
  }

  for (const i of instances) {
    const state = `${i.vm_state}/${i.task_state ?? 'none'} on ${i.host ?? 'no host'}`;
    if (!(i.vm_state === 'active' && i.task_state === null) && i.vm_state !== 'error') problems.push(`instance ${i.uuid} is ${state}, not ACTIVE or ERROR`);
    const mine = held.get(i.uuid) ?? new Map<string, Usage>();
    const own = nodeOf(i.host, i.node);
    if (i.vm_state === 'active') {
      if (!own) problems.push(`active instance ${i.uuid} is on ${i.host ?? 'no host'}, which has no compute node`);
      else if (mine.size !== 1 || !mine.has(own)) problems.push(`active instance ${i.uuid} on ${i.host} holds allocations on ${[...mine.keys()].join(', ') || 'nothing'}, not just its node ${own}`);
      else if (!same(mine.get(own)!, flavorUsage(i))) problems.push(`active instance ${i.uuid} holds ${JSON.stringify(mine.get(own))}, not its flavor's ${JSON.stringify(nonZero(flavorUsage(i)))}`);
    }
    if (i.vm_state === 'error' && mine.size > 0 && (!own || mine.size !== 1 || !mine.has(own) || !same(mine.get(own)!, flavorUsage(i)))) {
      problems.push(`instance ${i.uuid} in error (${state}) holds allocations on ${[...mine.keys()].join(', ')}`);
    }
  }
  for (const [consumer, byProvider] of held) {
    if (!byUuid.has(consumer) && !migrations.has(consumer)) problems.push(`allocation of ${consumer} on ${[...byProvider.keys()].join(', ')}: no live instance or migration`);
  }

  // Per provider: the sum of its allocations is that of the instances on it, within capacity.
  const expected = new Map<string, Usage>();
  for (const i of instances) {
    const own = nodeOf(i.host, i.node);
    if (own && (i.vm_state === 'active' || held.get(i.uuid)?.has(own))) add(expected.get(own) ?? expected.set(own, {}).get(own)!, flavorUsage(i));
  }
  const used = new Map<string, Usage>();
  for (const a of allocations) add(used.get(a.provider) ?? used.set(a.provider, {}).get(a.provider)!, { [a.resource_class]: Number(a.used) });
  const inventories: { provider: string; resource_class: string; total: number; reserved: number; allocation_ratio: number }[] = await db('inventories as v')
    .join('resource_providers as p', 'p.id', 'v.provider_id')
    .select('p.uuid as provider', 'v.resource_class', 'v.total', 'v.reserved', 'v.allocation_ratio');
  for (const provider of new Set([...expected.keys(), ...used.keys()])) {
    const u = used.get(provider) ?? {};
    if (!same(u, expected.get(provider) ?? {}) && migrations.size === 0) {
      problems.push(`provider ${provider} has ${JSON.stringify(nonZero(u))} allocated, its instances ${JSON.stringify(nonZero(expected.get(provider) ?? {}))}`);
    }
    for (const [rc, amount] of Object.entries(u)) {
      const inv = inventories.find((v) => v.provider === provider && v.resource_class === rc);
      const capacity = inv ? (Number(inv.total) - Number(inv.reserved)) * Number(inv.allocation_ratio) : 0;
      if (amount > capacity) problems.push(`provider ${provider} has ${amount} ${rc} allocated, over its capacity ${capacity}`);
    }
  }

  if (opts.quotaInUse) {
    const projects = new Set([...(opts.projects ?? []), ...instances.map((i) => i.project_id)]);
    for (const p of projects) {
      const mine = instances.filter((i) => i.project_id === p);
      const want: QuotaInUse = { instances: mine.length, cores: mine.reduce((s, i) => s + i.vcpus, 0), ram: mine.reduce((s, i) => s + i.memory_mb, 0) };
      const got = await opts.quotaInUse(p);
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`project ${p}: quota in use ${JSON.stringify(got)}, but its servers come to ${JSON.stringify(want)}`);
    }
  }
  return problems;
}

/** Fails with every problem computeProblems finds. */
export async function assertComputeConsistent(db: Db, opts: ConsistencyOptions = {}): Promise<void> {
  const problems = await computeProblems(db, opts);
  assert.deepEqual(problems, [], `the compute state is inconsistent:\n${problems.join('\n')}`);
}

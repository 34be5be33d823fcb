import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createFilesystemStore } from '../../api/image/data/filesystem.ts';
import { imagePolicyDefaults } from '../../api/image/policy-rules.ts';
import { createImageApp } from '../../api/image/server.ts';
import { createComputeAgent, type ComputeAgent } from '../../compute-driver/agent/index.ts';
import { FakeDriver, type FakeDriverOptions } from '../../compute-driver/drivers/fake/index.ts';
import { newId } from '../../lib/ids.ts';
import { createLogger } from '../../lib/log.ts';
import { Enforcer } from '../../lib/policy/enforcer.ts';
import { createConductor, type Conductor } from '../../scheduler/conductor/index.ts';
import { issueUserToken, startCompute, type ComputeHarness, type ProjectUser } from './compute.ts';
import type { TestDatabase } from './db.ts';

export interface Cloud extends ComputeHarness {
  image: FastifyInstance;
  /** The image API's base URL (also in the catalog). */
  imageUrl: string;
  conductor: Conductor;
  agents: Map<string, { agent: ComputeAgent; driver: FakeDriver }>;
  /** Starts a fake-driver agent for `host` and waits until the conductor knows its node. */
  addHost(host: string, opts?: FakeDriverOptions): Promise<void>;
  /** A real user (users row, role assignments) with a token in a new project. */
  realUser(roles?: string[]): Promise<ProjectUser>;
  /** Polls the instance row until `predicate` holds (10 s); resolves with it. */
  rowWhen(uuid: string, predicate: (row: any) => unknown, what: string, ms?: number): Promise<any>;
  /** Provider uuid → resources held by `consumer`. */
  allocations(consumer: string): Promise<Record<string, Record<string, number>>>;
  nodeUuid(host: string): Promise<string>;
  /** The events of the instance's `action`, once each has a result (agents cast them after their last state update). */
  events(uuid: string, action: string): Promise<{ event: string; result: string | null }[]>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The compute path end to end in one process: identity, the compute API and
 * the image API (listening on loopback, in the catalog) on one database and
 * in-process bus, the conductor (issuing image tokens) and fake-driver
 * compute agents added with addHost.
 */
export async function startCloud(opts: { overrides?: Record<string, unknown>; database?: TestDatabase } = {}): Promise<Cloud> {
  const h = await startCompute({ recordBus: false, overrides: opts.overrides, database: opts.database });
  const { identity } = h;
  const db = identity.database.db;
  const logger = createLogger({ level: identity.config['log.level'] });
  const storeDir = mkdtempSync(join(tmpdir(), 'nubo-cloud-images-'));
  const image = createImageApp({
    db,
    bus: identity.bus,
    tokens: identity.tokens,
    policy: new Enforcer(imagePolicyDefaults),
    config: identity.config,
    logger,
    store: createFilesystemStore(storeDir, { directIo: identity.config['image.direct_io'] }),
  });
  await image.listen({ host: '127.0.0.1', port: 0 });
  const imageUrl = `http://127.0.0.1:${(image.server.address() as { port: number }).port}`;
  const serviceId = newId();
  await db('services').insert({ id: serviceId, type: 'image', name: 'glance' });
  await db('endpoints').insert({ id: newId(), service_id: serviceId, interface: 'public', url: imageUrl, region_id: null });

  const conductor = createConductor({ db, bus: identity.bus, config: identity.config, logger, tokens: identity.tokens, sweepIntervalMs: 0 });
  await conductor.start();
  const agents = new Map<string, { agent: ComputeAgent; driver: FakeDriver }>();

  const nodeUuid = async (host: string) => (await db('compute_nodes').where({ host }).first())?.uuid as string;
  const { admin } = identity;

  return {
    ...h,
    image,
    imageUrl,
    conductor,
    agents,
    async addHost(host, driverOpts) {
      const driver = new FakeDriver(driverOpts);
      const agent = createComputeAgent({ bus: identity.bus, driver, host, logger, reportIntervalMs: 3600_000, syncIntervalMs: 0, retryMinMs: 20 });
      await agent.start();
      agents.set(host, { agent, driver });
      for (let i = 0; i < 500 && !(await nodeUuid(host)); i++) await sleep(10);
    },
    async realUser(roles = ['member', 'reader']) {
      const projectId = newId();
      const userId = newId();
      await db('projects').insert({ id: projectId, name: `p-${projectId.slice(0, 8)}`, domain_id: admin.domainId, parent_id: null, enabled: true });
      await db('users').insert({ id: userId, name: `u-${userId.slice(0, 8)}`, domain_id: admin.domainId, enabled: true });
      for (const name of roles) await db('assignments').insert({ type: 'UserProject', actor_id: userId, target_id: projectId, role_id: admin.roleIds[name] });
      return issueUserToken(identity, userId, projectId, roles);
    },
    async rowWhen(uuid, predicate, what, ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const row = await db('instances').where({ uuid }).first();
        if (await predicate(row)) return row;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: vm_state ${row?.vm_state}, task_state ${row?.task_state}`);
        await sleep(10);
      }
    },
    async allocations(consumer) {
      const rows: { uuid: string; resource_class: string; used: number }[] = await db('allocations as a')
        .join('resource_providers as p', 'p.id', 'a.provider_id')
        .where('a.consumer_id', consumer)
        .select('p.uuid', 'a.resource_class', 'a.used');
      const out: Record<string, Record<string, number>> = {};
      for (const r of rows) (out[r.uuid] ??= {})[r.resource_class] = Number(r.used);
      return out;
    },
    nodeUuid,
    async events(uuid, action) {
      for (let i = 0; ; i++) {
        const rows = await db('instance_action_events as e')
          .join('instance_actions as a', 'a.id', 'e.action_id')
          .where({ 'a.instance_uuid': uuid, 'a.action': action })
          .orderBy('e.id')
          .select('e.event', 'e.result');
        if ((rows.length && rows.every((r: { result: string | null }) => r.result)) || i > 300) return rows;
        await sleep(10);
      }
    },
    async close() {
      for (const { agent } of agents.values()) await agent.stop();
      await conductor.stop();
      await image.close();
      rmSync(storeDir, { recursive: true, force: true });
      await h.close();
    },
  };
}

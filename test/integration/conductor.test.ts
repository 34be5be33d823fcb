// The conductor (scheduler/conductor) on PGlite with the in-process bus and
// fake-driver compute agents in the same process: builds, NoValidHost,
// reschedules, deletes, heartbeats, instance_update rules, and the sweep that
// puts right what crashes and lost messages leave behind. Instance rows are
// put in directly, as the servers API would create them. The last suite runs
// `nubo scheduler` twice and `nubo compute` twice as processes on PostgreSQL
// and RabbitMQ (NUBO_TEST_POSTGRES_URL, NUBO_TEST_RABBITMQ_URL), in a vhost
// of its own so that its processes' queues meet no other test's.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createMemoryBus } from '../../lib/bus/memory.ts';
import { createRabbitBus } from '../../lib/bus/rabbitmq/index.ts';
import type { Bus } from '../../lib/bus/bus.ts';
import { loadConfig } from '../../lib/config/index.ts';
import type { Db } from '../../lib/db/index.ts';
import { createLogger } from '../../lib/log.ts';
import { createComputeAgent, type ComputeAgent } from '../../compute-driver/agent/index.ts';
import { FakeDriver, type FakeDriverOptions } from '../../compute-driver/drivers/fake/index.ts';
import { COMPUTE_BINARY, PowerState, TaskState, VmState, computeClient, computeTopic, type InstanceUpdate } from '../../compute-driver/rpc.ts';
import { createConductor, type Conductor } from '../../scheduler/conductor/index.ts';
import { conductorHandlers } from '../../scheduler/conductor/handlers.ts';
import { buildInstances } from '../../scheduler/conductor/build.ts';
import { sweepLeakedAllocations } from '../../scheduler/conductor/sweep.ts';
import { getNode } from '../../scheduler/compute-nodes/store.ts';
import { serviceIsUp } from '../../scheduler/filters/compute.ts';
import { loadHostStates } from '../../scheduler/hosts.ts';
import { schedulerClient } from '../../scheduler/rpc.ts';
import type { SchedulerOptions } from '../../scheduler/state.ts';
import { pgliteDatabase, postgresDatabase, type TestDatabase } from '../support/db.ts';
import { addRabbitVhost } from '../support/rabbitmq-vhost.ts';
import { addComputeHost } from '../support/compute-rows.ts';

const logger = createLogger({ level: process.env.NUBO_LOG_LEVEL ?? 'silent', name: 'conductor-test' });
const config = loadConfig({ env: {} });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the first truthy value of `probe`, polling; fails after `ms`. */
async function until<T>(probe: () => Promise<T> | T, what: string, ms = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

const IMAGE_ID = '00000000-0000-4000-8000-00000000cafe';

interface BuildRow {
  uuid?: string;
  vcpus?: number;
  memoryMb?: number;
  rootGb?: number;
  metadata?: Record<string, string>;
  reservationId?: string;
  host?: string | null;
  taskState?: string | null;
  updatedAt?: Date;
  requestSpec?: Record<string, unknown>;
}

/** An instance row as the servers API creates it (building, task_state scheduling, no host) with its create action; returns uuid and request id. */
async function addBuild(db: Db, b: BuildRow = {}): Promise<{ uuid: string; requestId: string }> {
  const uuid = b.uuid ?? randomUUID();
  const requestId = `req-${randomUUID()}`;
  const flavor = { flavorid: '1', name: 'm1.tiny', vcpus: b.vcpus ?? 1, memory_mb: b.memoryMb ?? 512, root_gb: b.rootGb ?? 1, ephemeral_gb: 0, swap: 0, extra_specs: {} };
  await db('instances').insert({
    uuid,
    display_name: `server-${uuid.slice(0, 8)}`,
    project_id: 'project',
    user_id: 'user',
    hostname: `server-${uuid.slice(0, 8)}`,
    host: b.host ?? null,
    node: b.host ?? null,
    flavor: JSON.stringify(flavor),
    vcpus: flavor.vcpus,
    memory_mb: flavor.memory_mb,
    root_gb: flavor.root_gb,
    image_ref: IMAGE_ID,
    image_meta: JSON.stringify({ id: IMAGE_ID, name: 'cirros', disk_format: 'qcow2', container_format: 'bare', properties: {} }),
    metadata: JSON.stringify(b.metadata ?? {}),
    request_spec: JSON.stringify(b.requestSpec ?? {}),
    vm_state: VmState.BUILDING,
    task_state: b.taskState === undefined ? TaskState.SCHEDULING : b.taskState,
    reservation_id: b.reservationId ?? `r-${uuid.slice(0, 8)}`,
    ...(b.updatedAt ? { updated_at: b.updatedAt, created_at: b.updatedAt } : {}),
  });
  await db('instance_actions').insert({ instance_uuid: uuid, action: 'create', request_id: requestId, project_id: 'project', user_id: 'user' });
  return { uuid, requestId };
}

/** What the API does to delete an ACTIVE server: task_state deleting, then terminate_instance to its host. */
async function deleteOnHost(db: Db, bus: Bus, uuid: string, host: string): Promise<void> {
  await db('instances').where({ uuid }).update({ task_state: TaskState.DELETING });
  await computeClient(bus, host).cast('terminate_instance', {
    instance: { uuid, name: `instance-${uuid}`, vm_state: VmState.ACTIVE, task_state: TaskState.DELETING },
    request_id: `req-${randomUUID()}`,
  });
}

interface Cloud {
  db: Db;
  bus: Bus;
  conductor: Conductor;
  agents: Map<string, ComputeAgent>;
  /** Shifts the conductor's clock. */
  advance(ms: number): void;
  row(uuid: string): Promise<any>;
  /** Waits until the instance's row satisfies `predicate`; resolves with it. */
  rowWhen(uuid: string, predicate: (row: any) => unknown, what: string): Promise<any>;
  /** Waits until the instance's vm_state is one of `states` (and its task_state null). */
  settled(uuid: string, states?: string[]): Promise<any>;
  /** Provider uuids the instance holds allocations on. */
  allocations(uuid: string): Promise<string[]>;
  nodeUuid(host: string): Promise<string>;
  build(uuids: string[], requestId: string): Promise<void>;
  close(): Promise<void>;
}

async function startCloud(
  hosts: Record<string, FakeDriverOptions>,
  opts: { scheduler?: Partial<SchedulerOptions>; reportIntervalMs?: number; buildTimeoutMs?: number } = {},
): Promise<Cloud> {
  const database: TestDatabase = await pgliteDatabase();
  const { db } = database;
  const bus = createMemoryBus({ logger, callTimeoutMs: 5000 });
  let offset = 0;
  const conductor = createConductor({
    db,
    bus,
    config,
    logger,
    scheduler: opts.scheduler,
    buildTimeoutMs: opts.buildTimeoutMs,
    sweepIntervalMs: 0,
    now: () => new Date(Date.now() + offset),
  });
  await conductor.start();
  const agents = new Map<string, ComputeAgent>();
  for (const [host, driverOpts] of Object.entries(hosts)) {
    const agent = createComputeAgent({
      bus,
      driver: new FakeDriver(driverOpts),
      host,
      logger,
      syncIntervalMs: 0,
      reportIntervalMs: opts.reportIntervalMs ?? 60_000,
      retryMinMs: 20,
      drainMs: 2000,
    });
    await agent.start();
    agents.set(host, agent);
  }
  const names = Object.keys(hosts);
  await until(async () => (await db('compute_nodes').whereIn('host', names)).length === names.length, 'the hosts to register');
  const row = (uuid: string) => db('instances').where({ uuid }).first();
  const rowWhen = (uuid: string, predicate: (row: any) => unknown, what: string) =>
    until(async () => {
      const r = await row(uuid);
      return r && predicate(r) ? r : undefined;
    }, `instance ${uuid}: ${what}`);
  return {
    db,
    bus,
    conductor,
    agents,
    advance: (ms) => (offset += ms),
    row,
    rowWhen,
    settled: (uuid, states = [VmState.ACTIVE, VmState.ERROR, VmState.DELETED]) =>
      rowWhen(uuid, (r) => states.includes(r.vm_state) && r.task_state === null, `settled in ${states.join('/')}`),
    allocations: async (uuid) => (await conductor.context.placement.allocations(uuid)).map((a) => a.providerUuid),
    nodeUuid: async (host) => (await getNode(db, host, host))!.uuid,
    build: (uuids, requestId) => schedulerClient(bus).cast('build_instances', { instance_uuids: uuids, request_id: requestId }),
    async close() {
      for (const a of agents.values()) await a.stop();
      await conductor.stop();
      await bus.close();
      await database.drop();
    },
  };
}

/** The conductor's and agent's events of the instance's action under `requestId`: event → result. */
async function events(db: Db, uuid: string, requestId: string): Promise<Record<string, string | null>> {
  const rows = await db('instance_action_events as e')
    .join('instance_actions as a', 'a.id', 'e.action_id')
    .where({ 'a.instance_uuid': uuid, 'a.request_id': requestId })
    .select('e.event', 'e.result');
  return Object.fromEntries(rows.map((r: { event: string; result: string | null }) => [r.event, r.result]));
}

describe('conductor: builds', () => {
  test('build_instances schedules, claims and builds: ACTIVE on the host with its allocation', async () => {
    const cloud = await startCloud({ 'host-a': {} });
    try {
      const { uuid, requestId } = await addBuild(cloud.db, { vcpus: 2, memoryMb: 1024, rootGb: 10, requestSpec: { admin_password: 'sekrit', scheduler_hints: {} } });
      await cloud.build([uuid], requestId);
      const row = await cloud.settled(uuid);
      assert.equal(row.vm_state, VmState.ACTIVE);
      assert.equal(row.power_state, PowerState.RUNNING);
      assert.deepEqual([row.host, row.node, row.launched_on], ['host-a', 'host-a', 'host-a']);
      assert.ok(row.launched_at);
      assert.equal(row.fault, null);
      assert.deepEqual(row.request_spec.retry, { num_attempts: 1, hosts: [{ host: 'host-a', node: 'host-a' }] });
      assert.equal(row.request_spec.scheduling_lease, undefined);
      assert.equal(row.request_spec.admin_password, undefined, 'the build is over: the password is not kept');
      const [alloc] = await cloud.conductor.context.placement.allocations(uuid);
      assert.equal(alloc.providerUuid, await cloud.nodeUuid('host-a'));
      assert.deepEqual(alloc.resources, { VCPU: 2, MEMORY_MB: 1024, DISK_GB: 10 });
      const ev = await until(async () => {
        const e = await events(cloud.db, uuid, requestId);
        return e.compute_build_and_run_instance ? e : undefined;
      }, 'the agent event');
      assert.deepEqual(ev, { conductor_schedule_and_build_instances: 'Success', compute_build_and_run_instance: 'Success' });
      // A redelivered build_instances changes nothing.
      await cloud.build([uuid], requestId);
      await sleep(50);
      assert.equal((await cloud.row(uuid)).vm_state, VmState.ACTIVE);
      assert.equal((await cloud.allocations(uuid)).length, 1);
    } finally {
      await cloud.close();
    }
  });

  test('a multi-create request is placed together, spread over the hosts', async () => {
    const cloud = await startCloud({ 'host-a': { memoryMb: 8192 }, 'host-b': { memoryMb: 8192 } });
    try {
      const requestId = `req-${randomUUID()}`;
      const uuids: string[] = [];
      for (let i = 0; i < 4; i++) uuids.push((await addBuild(cloud.db, { reservationId: 'r-multi', memoryMb: 1024 })).uuid);
      await cloud.build(uuids, requestId);
      const rows = await Promise.all(uuids.map((u) => cloud.settled(u)));
      assert.ok(rows.every((r) => r.vm_state === VmState.ACTIVE));
      assert.deepEqual(rows.map((r) => r.host).sort(), ['host-a', 'host-a', 'host-b', 'host-b']);
    } finally {
      await cloud.close();
    }
  });

  test('a requested destination is honoured; forced hosts skip the filters', async () => {
    const cloud = await startCloud({ 'host-a': { memoryMb: 262144 }, 'host-b': {} });
    try {
      const wanted = await addBuild(cloud.db, { requestSpec: { requested_destination: { host: 'host-b', node: null } } });
      await cloud.build([wanted.uuid], wanted.requestId);
      assert.equal((await cloud.settled(wanted.uuid)).host, 'host-b', 'host-a weighs better, host-b was asked for');
      // host-b disabled: the filters turn it away, an admin's forced host goes there anyway.
      await cloud.db('compute_services').where({ host: 'host-b' }).update({ disabled: true });
      const refused = await addBuild(cloud.db, { requestSpec: { requested_destination: { host: 'host-b' } } });
      const forced = await addBuild(cloud.db, { requestSpec: { force_hosts: ['host-b'] } });
      await cloud.build([refused.uuid], refused.requestId);
      await cloud.build([forced.uuid], forced.requestId);
      assert.equal((await cloud.settled(refused.uuid)).vm_state, VmState.ERROR);
      const row = await cloud.settled(forced.uuid);
      assert.deepEqual([row.vm_state, row.host], [VmState.ACTIVE, 'host-b']);
    } finally {
      await cloud.close();
    }
  });

  test('NoValidHost: ERROR with Nova\'s fault, no allocation, an Error event', async () => {
    const cloud = await startCloud({ 'host-a': {} });
    try {
      const { uuid, requestId } = await addBuild(cloud.db, { memoryMb: 10_000_000 });
      await cloud.build([uuid], requestId);
      const row = await cloud.settled(uuid);
      assert.equal(row.vm_state, VmState.ERROR);
      assert.equal(row.host, null);
      assert.equal(row.fault.code, 500);
      assert.equal(row.fault.message, 'No valid host was found. There are not enough hosts available.');
      assert.ok(row.fault.created);
      assert.deepEqual(await cloud.allocations(uuid), []);
      assert.deepEqual(await events(cloud.db, uuid, requestId), { conductor_schedule_and_build_instances: 'Error' });
      const action = await cloud.db('instance_actions').where({ instance_uuid: uuid }).first();
      assert.equal(action.message, 'Error');
    } finally {
      await cloud.close();
    }
  });

  test('a spawn failure on one host is rescheduled to the other: ACTIVE there, the first claim released', async () => {
    // host-a has more free RAM, so it is tried first; its spawns always fail.
    const cloud = await startCloud({ 'host-a': { failRate: 1, memoryMb: 262144 }, 'host-b': {} });
    try {
      const { uuid, requestId } = await addBuild(cloud.db);
      await cloud.build([uuid], requestId);
      const row = await cloud.rowWhen(uuid, (r) => r.vm_state === VmState.ACTIVE, 'ACTIVE after the reschedule');
      assert.equal(row.host, 'host-b');
      assert.deepEqual(row.request_spec.retry, {
        num_attempts: 2,
        hosts: [
          { host: 'host-a', node: 'host-a' },
          { host: 'host-b', node: 'host-b' },
        ],
      });
      assert.deepEqual(await cloud.allocations(uuid), [await cloud.nodeUuid('host-b')]);
      const ev = await events(cloud.db, uuid, requestId);
      assert.equal(ev.conductor_build_instances, 'Success');
    } finally {
      await cloud.close();
    }
  });

  test('when max_attempts hosts failed: ERROR with MaxRetriesExceeded, nothing allocated', async () => {
    const cloud = await startCloud({ 'host-a': { failRate: 1 }, 'host-b': { failRate: 1 }, 'host-c': { failRate: 1 } }, { scheduler: { maxAttempts: 2 } });
    try {
      const { uuid, requestId } = await addBuild(cloud.db);
      await cloud.build([uuid], requestId);
      const row = await cloud.rowWhen(uuid, (r) => r.vm_state === VmState.ERROR && r.fault?.message.startsWith('Exceeded'), 'ERROR');
      assert.equal(row.task_state, null);
      assert.equal(row.host, null);
      assert.equal(row.fault.code, 500);
      assert.match(row.fault.message, /^Exceeded maximum number of retries\. Exceeded max scheduling attempts 2 for instance .*Last exception: fake driver: injected spawn failure/);
      assert.equal(row.request_spec.retry.num_attempts, 2);
      await until(async () => (await cloud.allocations(uuid)).length === 0, 'the claims to be released');
    } finally {
      await cloud.close();
    }
  });

  test('with every host tried before max_attempts: ERROR, all hosts exhausted', async () => {
    const cloud = await startCloud({ 'host-a': { failRate: 1 }, 'host-b': { failRate: 1 } }, { scheduler: { maxAttempts: 5 } });
    try {
      const { uuid, requestId } = await addBuild(cloud.db);
      await cloud.build([uuid], requestId);
      const row = await cloud.rowWhen(uuid, (r) => r.vm_state === VmState.ERROR && r.fault?.message.startsWith('Exhausted'), 'ERROR');
      assert.equal(row.fault.message, `Exhausted all hosts available for retrying build failures for instance ${uuid}.`);
      assert.deepEqual(await cloud.allocations(uuid), []);
    } finally {
      await cloud.close();
    }
  });

  test('delete: the agent reports deleted, the row is soft-deleted and its allocation released', async () => {
    const cloud = await startCloud({ 'host-a': {} });
    try {
      const { uuid, requestId } = await addBuild(cloud.db);
      await cloud.build([uuid], requestId);
      const row = await cloud.settled(uuid, [VmState.ACTIVE]);
      assert.equal((await cloud.allocations(uuid)).length, 1);
      await deleteOnHost(cloud.db, cloud.bus, uuid, 'host-a');
      const gone = await cloud.rowWhen(uuid, (r) => r.deleted_at, 'the row to be soft-deleted');
      assert.equal(gone.vm_state, VmState.DELETED);
      assert.equal(gone.power_state, PowerState.NOSTATE);
      assert.ok(gone.terminated_at);
      assert.equal(gone.host, row.host);
      await until(async () => (await cloud.allocations(uuid)).length === 0, 'the release');
      const onHost = await conductorHandlers(cloud.conductor.context).instances_on_host({ host: 'host-a' });
      assert.deepEqual(onHost, []);
    } finally {
      await cloud.close();
    }
  });
});

describe('conductor: compute services', () => {
  test('heartbeats keep the service up; without them it is down after service_down_time', async () => {
    const cloud = await startCloud({ 'host-a': { vcpus: 4, memoryMb: 8192, localGb: 50 } }, { reportIntervalMs: 30 });
    try {
      const { db, conductor } = cloud;
      const service = await until(async () => {
        const s = await db('compute_services').where({ host: 'host-a', binary: COMPUTE_BINARY }).first();
        return s && s.report_count >= 3 ? s : undefined;
      }, 'three reports');
      const [state] = await loadHostStates(db);
      const downMs = conductor.context.options.serviceDownTimeMs;
      assert.ok(serviceIsUp(state.service, Date.now(), downMs));
      assert.ok(Date.now() - service.last_seen_up.getTime() < 5000);
      // The node, its provider and inventory as reported (with the default allocation ratios).
      const node = await getNode(db, 'host-a', 'host-a');
      assert.deepEqual([node!.vcpus, node!.memory_mb, node!.local_gb, node!.hypervisor_type], [4, 8192, 50, 'fake']);
      const provider = await conductor.context.placement.getProvider(node!.uuid);
      assert.equal(provider.inventories.VCPU!.total, 4);
      assert.equal(provider.inventories.MEMORY_MB!.reserved, 512);

      await cloud.agents.get('host-a')!.stop();
      const last = (await db('compute_services').where({ host: 'host-a' }).first()).last_seen_up.getTime();
      await sleep(100);
      assert.equal((await db('compute_services').where({ host: 'host-a' }).first()).last_seen_up.getTime(), last, 'a stopped agent sends no heartbeat');
      const [after] = await loadHostStates(db);
      assert.ok(serviceIsUp(after.service, last + downMs, downMs), 'up until service_down_time has passed');
      assert.ok(!serviceIsUp(after.service, last + downMs + 1000, downMs), 'down after it');
    } finally {
      await cloud.close();
    }
  });
});

describe('conductor: instance_update and events', () => {
  test('conditional updates: expected states, ownership, seq idempotency, deleted instances', async () => {
    const cloud = await startCloud({});
    try {
      const h = conductorHandlers(cloud.conductor.context);
      const { uuid } = await addBuild(cloud.db, { host: 'host-a', taskState: TaskState.SPAWNING });
      const base = { uuid, from_host: 'host-a' };
      let seq = Date.now() * 1000;
      const up = (u: Partial<InstanceUpdate>) => h.instance_update({ ...base, seq: ++seq, ...u });

      assert.deepEqual(await up({ task_state: null, expected_task_state: [TaskState.NETWORKING] }), {
        applied: false,
        reason: 'unexpected_task_state',
        vm_state: VmState.BUILDING,
        task_state: TaskState.SPAWNING,
      });
      assert.deepEqual(await up({ vm_state: VmState.ACTIVE, expected_vm_state: [VmState.STOPPED] }), {
        applied: false,
        reason: 'unexpected_vm_state',
        vm_state: VmState.BUILDING,
        task_state: TaskState.SPAWNING,
      });
      assert.equal((await h.instance_update({ ...base, from_host: 'host-b', seq: ++seq, power_state: 1 })).reason, 'not_owner');

      const fault = { code: 500, message: 'boom', details: 'trace', host: 'host-a', created_at: new Date().toISOString() };
      const launched = new Date().toISOString();
      const applied = { uuid, from_host: 'host-a', seq: ++seq, vm_state: VmState.ACTIVE, task_state: null, power_state: PowerState.RUNNING, launched_at: launched, fault, expected_task_state: [TaskState.SPAWNING] } as InstanceUpdate;
      assert.deepEqual(await h.instance_update(applied), { applied: true });
      let row = await cloud.row(uuid);
      assert.deepEqual([row.vm_state, row.task_state, row.power_state], [VmState.ACTIVE, null, PowerState.RUNNING]);
      assert.equal(row.launched_at.toISOString(), launched);
      assert.deepEqual(row.fault, { code: 500, message: 'boom', details: 'trace', host: 'host-a', created: fault.created_at });

      // The same call again (its reply was lost), or an older one: applied, nothing changes.
      await cloud.db('instances').where({ uuid }).update({ task_state: TaskState.REBOOTING });
      assert.deepEqual(await h.instance_update(applied), { applied: true });
      assert.deepEqual(await h.instance_update({ ...applied, seq: applied.seq - 1, power_state: PowerState.SHUTDOWN }), { applied: true });
      row = await cloud.row(uuid);
      assert.deepEqual([row.task_state, row.power_state], [TaskState.REBOOTING, PowerState.RUNNING]);

      await cloud.db('instances').where({ uuid }).update({ task_state: TaskState.DELETING });
      assert.equal((await up({ task_state: TaskState.REBOOT_PENDING, expected_task_state: [TaskState.REBOOTING] })).reason, 'deleting');
      assert.deepEqual(await up({ vm_state: VmState.DELETED, task_state: null, power_state: PowerState.NOSTATE }), { applied: true });
      row = await cloud.row(uuid);
      assert.ok(row.deleted_at);
      assert.equal((await up({ power_state: PowerState.RUNNING })).reason, 'not_found');
      assert.equal((await h.instance_update({ uuid: randomUUID(), from_host: 'host-a', seq: ++seq })).reason, 'not_found');
    } finally {
      await cloud.close();
    }
  });

  test('action events are upserted in any order, and create the action the agent started', async () => {
    const cloud = await startCloud({});
    try {
      const h = conductorHandlers(cloud.conductor.context);
      const { uuid } = await addBuild(cloud.db, { host: 'host-a' });
      const requestId = `req-${randomUUID()}`;
      const start = '2030-01-01T00:00:00.000Z';
      const finish = '2030-01-01T00:00:05.000Z';
      const base = { uuid, request_id: requestId, action: 'stop' as const, event: 'compute_stop_instance', host: 'host-a', start };
      await h.instance_action_event({ ...base, finish, result: 'Error', traceback: 'Traceback…' });
      await h.instance_action_event(base);
      const action = await cloud.db('instance_actions').where({ instance_uuid: uuid, request_id: requestId }).first();
      assert.deepEqual([action.action, action.user_id, action.project_id, action.message], ['stop', null, 'project', 'Error']);
      const rows = await cloud.db('instance_action_events').where({ action_id: action.id });
      assert.equal(rows.length, 1);
      assert.deepEqual(
        [rows[0].start_time.toISOString(), rows[0].finish_time.toISOString(), rows[0].result, rows[0].traceback, rows[0].host],
        [start, finish, 'Error', 'Traceback…', 'host-a'],
      );
      // An event of an instance that does not exist is dropped.
      await h.instance_action_event({ ...base, uuid: randomUUID() });
    } finally {
      await cloud.close();
    }
  });
});

describe('conductor: crash safety', () => {
  test('the sweep reschedules stuck builds and releases leaked claims', async () => {
    const buildTimeoutMs = 60_000;
    const cloud = await startCloud({ 'host-a': { memoryMb: 262144 }, 'host-b': {} }, { buildTimeoutMs });
    try {
      const { db, conductor } = cloud;
      const { placement } = conductor.context;
      const claim = { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 };
      const old = new Date(Date.now() - 10 * 60_000);
      const [nodeA, nodeB] = [await cloud.nodeUuid('host-a'), await cloud.nodeUuid('host-b')];

      // The API created it but its build_instances never arrived.
      const lost = await addBuild(db, { updatedAt: old });
      // A scheduler claimed on host-a for it, then died before recording the host.
      const midClaim = await addBuild(db, { requestSpec: { scheduling_lease: { owner: 'dead-host:1:abc', at: new Date().toISOString() } } });
      await placement.claim(midClaim.uuid, nodeA, claim);
      // Placed on host-a, whose agent never got the build.
      const unstarted = await addBuild(db, { host: 'host-a', updatedAt: old });
      await placement.claim(unstarted.uuid, nodeA, claim);
      // Spawning on a host that died.
      const { nodeUuid: ghostNode } = await addComputeHost(db, config, 'ghost', { lastSeenUp: old });
      const orphan = await addBuild(db, { host: 'ghost', taskState: TaskState.SPAWNING, updatedAt: old });
      await placement.claim(orphan.uuid, ghostNode, claim);
      // Being deleted there: the API's business, not the sweep's.
      const deleting = await addBuild(db, { host: 'ghost', taskState: TaskState.DELETING, updatedAt: old });
      // Deleted, but its claim was never released.
      const deleted = await addBuild(db, { host: 'host-b' });
      await db('instances').where({ uuid: deleted.uuid }).update({ vm_state: VmState.DELETED, task_state: null, deleted_at: new Date() });
      await placement.claim(deleted.uuid, nodeB, claim);

      // The mid-claim lease is live: a redelivered build_instances leaves it to its holder.
      await cloud.build([midClaim.uuid], midClaim.requestId);
      await sleep(100);
      assert.equal((await cloud.row(midClaim.uuid)).host, null);

      // Before build_timeout only what does not depend on it is done.
      const early = await conductor.sweep();
      assert.deepEqual(early, { unscheduled: 1, unstarted: 1, hostDown: 1, leaked: 1, moves: 0, cleanups: 0 });
      assert.equal((await cloud.row(midClaim.uuid)).host, null);

      for (const b of [lost, unstarted, orphan]) await cloud.settled(b.uuid, [VmState.ACTIVE]);
      cloud.advance(buildTimeoutMs + 1000);
      const late = await conductor.sweep();
      assert.equal(late.unscheduled, 1);

      for (const b of [lost, midClaim, unstarted, orphan]) {
        const row = await cloud.settled(b.uuid, [VmState.ACTIVE]);
        const allocations = await cloud.allocations(b.uuid);
        assert.deepEqual(allocations, [await cloud.nodeUuid(row.host)], `${b.uuid}: one claim, on its host`);
      }
      assert.equal((await cloud.row(unstarted.uuid)).host, 'host-b', 'the host that never started it is not tried again');
      assert.deepEqual((await cloud.row(orphan.uuid)).request_spec.retry.hosts[0], { host: 'ghost', node: 'ghost' }, 'the dead host counts as tried');
      assert.deepEqual(await cloud.allocations(deleted.uuid), []);
      assert.deepEqual([(await cloud.row(deleting.uuid)).host, (await cloud.row(deleting.uuid)).task_state], ['ghost', TaskState.DELETING]);

      // A claim on another host than the instance's own is a leak too; the own one stays.
      await placement.claim(lost.uuid, (await cloud.row(lost.uuid)).host === 'host-a' ? nodeB : nodeA, claim);
      assert.equal((await cloud.allocations(lost.uuid)).length, 2);
      assert.equal(await sweepLeakedAllocations(conductor.context), 1);
      assert.deepEqual(await cloud.allocations(lost.uuid), [await cloud.nodeUuid((await cloud.row(lost.uuid)).host)]);

      assert.deepEqual(await conductor.sweep(), { unscheduled: 0, unstarted: 0, hostDown: 0, leaked: 0, moves: 0, cleanups: 0 }, 'nothing left to do');
    } finally {
      await cloud.close();
    }
  });

  test('a build whose cast still waits for the broker is not taken back as unstarted until its lease ends', async () => {
    const buildTimeoutMs = 60_000;
    const cloud = await startCloud({ 'host-a': {}, 'host-b': {} }, { buildTimeoutMs });
    try {
      const old = new Date(Date.now() - 10 * 60_000);
      // Committed on host-a long ago, its conductor still casting (the broker was away): the lease is live.
      const casting = await addBuild(cloud.db, { host: 'host-a', updatedAt: old, requestSpec: { scheduling_lease: { owner: 'other:1:abc', at: new Date().toISOString() } } });
      assert.deepEqual(await cloud.conductor.sweep(), { unscheduled: 0, unstarted: 0, hostDown: 0, leaked: 0, moves: 0, cleanups: 0 });
      assert.equal((await cloud.row(casting.uuid)).host, 'host-a');
      // Once the lease is older than build_timeout (its conductor died mid-cast), it is taken back.
      cloud.advance(buildTimeoutMs + 1000);
      assert.equal((await cloud.conductor.sweep()).unstarted, 1);
      assert.equal((await cloud.settled(casting.uuid, [VmState.ACTIVE])).host, 'host-b');
    } finally {
      await cloud.close();
    }
  });

  test('a build that keeps waiting with attempts used up is set to error by the sweep', async () => {
    const cloud = await startCloud({ 'host-a': {} }, { scheduler: { maxAttempts: 1 } });
    try {
      const old = new Date(Date.now() - 10 * 60_000);
      const stuck = await addBuild(cloud.db, { host: 'host-a', updatedAt: old });
      assert.deepEqual(await cloud.conductor.sweep(), { unscheduled: 0, unstarted: 1, hostDown: 0, leaked: 0, moves: 0, cleanups: 0 });
      const row = await cloud.settled(stuck.uuid, [VmState.ERROR]);
      assert.match(row.fault.message, /^Exceeded maximum number of retries/);
    } finally {
      await cloud.close();
    }
  });
});

describe('conductor: concurrent conductors on PostgreSQL', () => {
  test('two conductors handed the same build schedule each instance once', async () => {
    const database = await postgresDatabase();
    const { db } = database;
    const bus = createMemoryBus({ logger });
    try {
      const hosts = ['race-a', 'race-b'];
      const casts: string[] = [];
      for (const host of hosts) {
        await addComputeHost(db, config, host);
        await bus.serve(computeTopic(host), { build_and_run_instance: (m: { instance: { uuid: string } }) => void casts.push(m.instance.uuid) });
      }
      const conductors = [0, 1].map(() => createConductor({ db, bus, config, logger, sweepIntervalMs: 0 }));
      const requestId = `req-${randomUUID()}`;
      const uuids: string[] = [];
      for (let i = 0; i < 8; i++) uuids.push((await addBuild(db, { reservationId: 'r-race' })).uuid);
      await Promise.all(conductors.flatMap((c) => [buildInstances(c.context, uuids, requestId), buildInstances(c.context, uuids, requestId)]));
      await until(() => casts.length >= uuids.length, 'the builds to be cast');
      await sleep(50);
      assert.deepEqual(casts.sort(), [...uuids].sort(), 'one build_and_run_instance per instance');
      const { placement } = conductors[0].context;
      for (const uuid of uuids) {
        const row = await db('instances').where({ uuid }).first();
        assert.deepEqual((await placement.allocations(uuid)).map((a) => a.providerUuid), [(await getNode(db, row.host, row.node))!.uuid]);
      }
    } finally {
      await bus.close();
      await database.drop();
    }
  });
});

// ─── distributed: two schedulers and two compute agents as processes ───

const nubo = fileURLToPath(new URL('../../bin/nubo.js', import.meta.url));
const brokerUrl = process.env.NUBO_TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

describe('conductor: processes on PostgreSQL and RabbitMQ', () => {
  test('two `nubo scheduler` and two `nubo compute` processes build, spread and delete instances', async () => {
    const database = await postgresDatabase();
    const { db } = database;
    const vhost = addRabbitVhost(brokerUrl);
    const rabbitUrl = vhost.url;
    const tag = randomBytes(3).toString('hex');
    const hosts = [`proc-${tag}-a`, `proc-${tag}-b`];
    const env = {
      ...process.env,
      NUBO_DATABASE_URL: database.url,
      NUBO_BUS_URL: rabbitUrl,
      NUBO_LOG_LEVEL: process.env.NUBO_LOG_LEVEL ?? 'warn',
      NUBO_COMPUTE_DRIVER: 'fake',
      NUBO_COMPUTE_REPORT_INTERVAL: '1',
      NUBO_COMPUTE_FAKE_MEMORY_MB: '16384',
      NUBO_SCHEDULER_SWEEP_INTERVAL: '1',
    };
    const children: ChildProcess[] = [];
    const output: string[] = [];
    const start = (args: string[], extra: NodeJS.ProcessEnv = {}) => {
      const child = spawn(process.execPath, [nubo, ...args], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d) => output.push(String(d)));
      child.stderr!.on('data', (d) => output.push(String(d)));
      children.push(child);
      return child;
    };
    const bus = await createRabbitBus(rabbitUrl, { logger, closeGraceMs: 500 });
    try {
      start(['scheduler']);
      start(['scheduler']);
      for (const host of hosts) start(['compute'], { NUBO_COMPUTE_HOST: host });
      await until(async () => (await db('compute_nodes').whereIn('host', hosts)).length === 2, 'both hosts to register', 60_000);

      const requests = [{ requestId: `req-${randomUUID()}`, uuids: [] as string[] }, { requestId: `req-${randomUUID()}`, uuids: [] as string[] }];
      for (const [i, r] of requests.entries()) {
        for (let n = 0; n < 3; n++) r.uuids.push((await addBuild(db, { reservationId: `r-${tag}-${i}`, memoryMb: 2048 })).uuid);
      }
      await Promise.all(requests.map((r) => schedulerClient(bus).cast('build_instances', { instance_uuids: r.uuids, request_id: r.requestId })));
      const all = requests.flatMap((r) => r.uuids);
      const rows = await until(async () => {
        const got = await db('instances').whereIn('uuid', all);
        return got.every((r: any) => r.vm_state === VmState.ACTIVE && r.task_state === null) ? got : undefined;
      }, 'every instance to be ACTIVE', 30_000);
      assert.deepEqual([...new Set(rows.map((r: any) => r.host))].sort(), hosts.sort(), 'spread over both hosts');
      const placement = createConductor({ db, bus, config, logger }).context.placement;
      for (const r of rows) {
        const allocations = await placement.allocations(r.uuid);
        assert.deepEqual(allocations.map((a) => a.providerUuid), [(await getNode(db, r.host, r.node))!.uuid]);
      }

      const victim = rows[0];
      await deleteOnHost(db, bus, victim.uuid, victim.host);
      await until(async () => (await db('instances').where({ uuid: victim.uuid }).first()).deleted_at, 'the delete', 15_000);
      // Released right after the row is soft-deleted (and by the sweep, should that be cut short).
      await until(async () => (await placement.allocations(victim.uuid)).length === 0, 'the release', 5000);

      for (const c of children) c.kill('SIGTERM');
      const codes = await Promise.all(children.map(async (c) => (c.exitCode ?? (await once(c, 'exit'))[0]) as number | null));
      assert.deepEqual(codes, [0, 0, 0, 0], output.join(''));
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await bus.close();
      await database.drop();
      await vhost.drop();
    }
  });
});

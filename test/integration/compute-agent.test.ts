// The compute agent (compute-driver/agent) driven over the bus as the API and
// conductor drive it (compute-driver/rpc.ts), with the fake driver and a test
// double of the conductor that keeps the instances as the database would.
// Most tests use the in-process bus; the last runs the agent over RabbitMQ
// (NUBO_TEST_RABBITMQ_URL, default the local broker).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { BusRemoteError, type Bus } from '../../lib/bus/bus.ts';
import { createMemoryBus } from '../../lib/bus/memory.ts';
import { createRabbitBus } from '../../lib/bus/rabbitmq/index.ts';
import { createLogger } from '../../lib/log.ts';
import { createComputeAgent, type ComputeAgent, type ComputeAgentOptions } from '../../compute-driver/agent/index.ts';
import { emptyBlockDeviceInfo, type InstanceSpec } from '../../compute-driver/driver.ts';
import { FakeDriver } from '../../compute-driver/drivers/fake/index.ts';
import { sampleImage, sampleInstance } from '../../compute-driver/drivers/fake/samples.ts';
import {
  CONDUCTOR_TOPIC,
  PowerState,
  TaskState,
  VmState,
  computeClient,
  computeTopic,
  type BuildAndRunInstance,
  type BuildFailed,
  type ComputeCasts,
  type ConductorServer,
  type Fault,
  type InstanceActionEvent,
  type InstanceOnHost,
  type InstanceUpdate,
  type InstanceUpdateResult,
  type ReconcileReport,
  type ServiceUpdate,
} from '../../compute-driver/rpc.ts';

const logger = createLogger({ level: process.env.NUBO_LOG_LEVEL ?? 'silent', name: 'compute-agent-test' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `predicate` holds, polling; fails after `ms`. */
async function until(predicate: () => unknown, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

type Row = InstanceOnHost & { launched_at?: string; terminated_at?: string };
type Snapshot = [VmState, TaskState | null, PowerState];

/**
 * The conductor as the contract in rpc.ts describes it, over an in-memory
 * table: conditional updates, seq, faults, events, services.
 */
class ConductorDouble {
  readonly rows = new Map<string, Row>();
  /** Per instance: vm_state, task_state, power_state after each applied update. */
  readonly history = new Map<string, Snapshot[]>();
  readonly refused: { update: InstanceUpdate; result: InstanceUpdateResult }[] = [];
  readonly faults: (Fault & { uuid: string })[] = [];
  readonly events: InstanceActionEvent[] = [];
  readonly services: ServiceUpdate[] = [];
  readonly buildFailures: BuildFailed[] = [];
  readonly reconciles: ReconcileReport[] = [];
  private readonly seqs = new Map<string, { host: string; seq: number }>();

  readonly handlers: ConductorServer = {
    instance_update: (u) => this.apply(u),
    instances_on_host: ({ host }) => [...this.rows.values()].filter((r) => r.host === host && r.vm_state !== VmState.DELETED).map((r) => ({ ...r })),
    service_update: (s) => void this.services.push(s),
    instance_action_event: (e) => void this.events.push(e),
    build_failed: (b) => void this.buildFailures.push(b),
    reconcile_report: (r) => void this.reconciles.push(r),
    migration_cleaned: () => undefined,
  };

  /** An instance the scheduler placed on `host`, as the conductor has it before casting the build. */
  place(spec: InstanceSpec, host: string, state: Partial<Row> = {}): Row {
    const row: Row = { uuid: spec.uuid, name: spec.name, vm_state: VmState.BUILDING, task_state: TaskState.SCHEDULING, power_state: PowerState.NOSTATE, host, node: host, ...state };
    this.rows.set(spec.uuid, row);
    return row;
  }

  row(uuid: string): Row {
    const row = this.rows.get(uuid);
    assert.ok(row, `no instance ${uuid}`);
    return row;
  }

  /** What the API does before casting an action: set the task_state. */
  setTask(uuid: string, task: TaskState | null) {
    this.row(uuid).task_state = task;
  }

  taskStates(uuid: string) {
    return (this.history.get(uuid) ?? []).map((s) => s[1]);
  }

  eventsOf(requestId: string) {
    return this.events.filter((e) => e.request_id === requestId);
  }

  finished(requestId: string) {
    return this.eventsOf(requestId).find((e) => e.finish);
  }

  private apply(u: InstanceUpdate): InstanceUpdateResult {
    const row = this.rows.get(u.uuid);
    const refuse = (reason: InstanceUpdateResult['reason']) => {
      const result = { applied: false, reason, vm_state: row?.vm_state, task_state: row?.task_state };
      this.refused.push({ update: u, result });
      return result;
    };
    if (!row || row.vm_state === VmState.DELETED) return refuse('not_found');
    if (row.host && row.host !== u.from_host) return refuse('not_owner');
    const last = this.seqs.get(u.uuid);
    if (last && last.host === u.from_host && u.seq <= last.seq) return { applied: true };
    if (u.expected_task_state && !u.expected_task_state.includes(row.task_state)) {
      return refuse(row.task_state === TaskState.DELETING ? 'deleting' : 'unexpected_task_state');
    }
    if (u.expected_vm_state && !u.expected_vm_state.includes(row.vm_state)) return refuse('unexpected_vm_state');
    for (const key of ['vm_state', 'task_state', 'power_state', 'host', 'node', 'launched_at', 'terminated_at'] as const) {
      if (key in u) (row as unknown as Record<string, unknown>)[key] = u[key];
    }
    if (u.fault) this.faults.push({ uuid: u.uuid, ...u.fault });
    this.seqs.set(u.uuid, { host: u.from_host, seq: u.seq });
    const list = this.history.get(u.uuid) ?? [];
    list.push([row.vm_state, row.task_state, row.power_state]);
    this.history.set(u.uuid, list);
    return { applied: true };
  }
}

/** One agent on a bus, the conductor double, and the API's side of the contract. */
interface Env {
  bus: Bus;
  host: string;
  driver: FakeDriver;
  conductor: ConductorDouble;
  agent: ComputeAgent;
  /** Starts another agent (a restart) on the same host, driver and conductor. */
  restart(opts?: Partial<ComputeAgentOptions>): Promise<ComputeAgent>;
  /** Places an instance and casts its build; resolves with the request id once cast. */
  castBuild(spec: InstanceSpec, extra?: Partial<BuildAndRunInstance>): Promise<string>;
  /** Places and builds an instance; resolves once its build has finished. */
  boot(over?: Partial<InstanceSpec>, extra?: Partial<BuildAndRunInstance>): Promise<{ spec: InstanceSpec; requestId: string }>;
  /** Sets the task_state as the API does, casts the action, and waits for its finish event. */
  act<M extends Exclude<keyof ComputeCasts, 'build_and_run_instance' | 'rebuild_instance'>>(
    method: M,
    uuid: string,
    task: TaskState,
    extra?: Partial<ComputeCasts[M]>,
  ): Promise<InstanceActionEvent>;
}

async function startEnv(agentBus: Bus, apiBus: Bus, opts: Partial<ComputeAgentOptions> & { driver?: FakeDriver } = {}): Promise<Env & { close(): Promise<void> }> {
  const host = `host-${randomBytes(3).toString('hex')}`;
  const driver = opts.driver ?? new FakeDriver();
  const conductor = new ConductorDouble();
  const served = await apiBus.serve(CONDUCTOR_TOPIC, conductor.handlers);
  const agents: ComputeAgent[] = [];
  const newAgent = async (more: Partial<ComputeAgentOptions> = {}) => {
    const agent = createComputeAgent({ bus: agentBus, driver, host, logger, syncIntervalMs: 0, retryMinMs: 20, drainMs: 2000, lifecycleDelayMs: 0, ...opts, ...more });
    agents.push(agent);
    await agent.start();
    return agent;
  };
  const api = computeClient(apiBus, host);
  const env: Env & { close(): Promise<void> } = {
    bus: agentBus,
    host,
    driver,
    conductor,
    agent: await newAgent(),
    restart: newAgent,
    async castBuild(spec, extra = {}) {
      const requestId = `req-${randomUUID()}`;
      conductor.place(spec, host);
      await api.cast('build_and_run_instance', {
        request_id: requestId,
        instance: { ...spec, vm_state: VmState.BUILDING, task_state: TaskState.SCHEDULING },
        image: { ...sampleImage, download: { url: `http://glance/v2/images/${sampleImage.id}/file`, token: 'secret' } },
        requested_networks: [],
        network_info: [],
        block_device_info: emptyBlockDeviceInfo(),
        host,
        node: host,
        ...extra,
      });
      return requestId;
    },
    async boot(over = {}, extra = {}) {
      const spec = sampleInstance(over);
      const requestId = await env.castBuild(spec, extra);
      await until(() => conductor.finished(requestId), 5000, `the build of ${spec.uuid} to finish`);
      return { spec, requestId };
    },
    async act(method, uuid, task, extra = {}) {
      const row = conductor.row(uuid);
      conductor.setTask(uuid, task);
      const requestId = `req-${randomUUID()}`;
      const instance = { uuid, name: row.name, vm_state: row.vm_state, task_state: task };
      await api.cast(method, { instance, request_id: requestId, ...extra } as ComputeCasts[typeof method]);
      await until(() => conductor.finished(requestId), 5000, `${method} of ${uuid} to finish`);
      return conductor.finished(requestId)!;
    },
    async close() {
      for (const a of agents) await a.stop();
      await served.close();
    },
  };
  return env;
}

/** Runs `body` with an agent on the in-process bus. */
const withAgent =
  (body: (env: Env) => Promise<void>, opts: Partial<ComputeAgentOptions> & { driver?: FakeDriver } = {}) =>
  async () => {
    const bus = createMemoryBus({ logger, callTimeoutMs: 2000 });
    const env = await startEnv(bus, bus, opts);
    try {
      await body(env);
    } finally {
      await env.close();
      await bus.close();
    }
  };

const snapshot = (row: Row): Snapshot => [row.vm_state, row.task_state, row.power_state];

describe('compute agent over the in-process bus', () => {
  test(
    'registers its host with resources, then builds: building → networking → block_device_mapping → spawning → active/RUNNING',
    withAgent(async ({ conductor, driver, boot, host }) => {
      const start = conductor.services[0];
      assert.equal(start.event, 'start');
      assert.equal(start.host, host);
      assert.equal(start.topic, computeTopic(host));
      assert.equal(start.driver, 'fake');
      assert.equal(start.report_count, 1);
      assert.equal(start.resources.hypervisor_type, 'fake');
      assert.equal(start.resources.vcpus, 32);
      assert.equal(start.capabilities.supports_image_type_qcow2, true);
      await until(() => conductor.reconciles.length, 2000, 'the reconcile report');
      assert.deepEqual(conductor.reconciles, [{ host, adopted: [], missing: [], unknown: [] }]);

      const { spec, requestId } = await boot();
      assert.deepEqual(conductor.history.get(spec.uuid), [
        [VmState.BUILDING, null, PowerState.NOSTATE],
        [VmState.BUILDING, TaskState.NETWORKING, PowerState.NOSTATE],
        [VmState.BUILDING, TaskState.BLOCK_DEVICE_MAPPING, PowerState.NOSTATE],
        [VmState.BUILDING, TaskState.SPAWNING, PowerState.NOSTATE],
        [VmState.ACTIVE, null, PowerState.RUNNING],
      ]);
      const row = conductor.row(spec.uuid);
      assert.ok(row.launched_at && !Number.isNaN(Date.parse(row.launched_at)));
      assert.equal(row.host, host);
      const events = conductor.eventsOf(requestId);
      assert.deepEqual(
        events.map((e) => [e.action, e.event, e.result ?? null]),
        [
          ['create', 'compute_build_and_run_instance', null],
          ['create', 'compute_build_and_run_instance', 'Success'],
        ],
      );
      assert.equal(events[0].start, events[1].start);
      assert.deepEqual(await driver.listInstances(), [{ uuid: spec.uuid, name: spec.name }]);
      assert.deepEqual(conductor.buildFailures, []);
    }),
  );

  test(
    'an injected spawn failure: nothing left on the host, error with a fault, build_failed not retryable',
    withAgent(async ({ conductor, driver, boot, host }) => {
      const { spec, requestId } = await boot({ metadata: { fake_fail: 'spawn' } });
      const row = conductor.row(spec.uuid);
      assert.deepEqual(snapshot(row), [VmState.ERROR, null, PowerState.NOSTATE]);
      assert.equal(row.host, null, 'the instance is given up: no host');
      assert.deepEqual(await driver.listInstances(), []);
      const [fault] = conductor.faults;
      assert.equal(fault.uuid, spec.uuid);
      assert.equal(fault.code, 500);
      assert.match(fault.message, /injected spawn failure/);
      assert.match(fault.details ?? '', /FakeFailure/);
      assert.equal(fault.host, host);
      assert.equal(conductor.buildFailures.length, 1);
      const failed = conductor.buildFailures[0];
      assert.deepEqual([failed.uuid, failed.request_id, failed.host, failed.retryable], [spec.uuid, requestId, host, false]);
      assert.match(failed.reason, /injected spawn failure/);
      const finish = conductor.finished(requestId)!;
      assert.equal(finish.result, 'Error');
      assert.match(finish.traceback ?? '', /injected spawn failure/);
    }),
  );

  test(
    'with retry, a reschedulable failure goes back to scheduling for another host; an abort does not',
    withAgent(async ({ conductor, boot }) => {
      const retry = { num_attempts: 1, hosts: [] };
      const host_list = [{ host: 'other', node: 'other' }];
      const first = await boot({ metadata: { fake_fail: 'spawn' } }, { retry, host_list });
      const row = conductor.row(first.spec.uuid);
      assert.deepEqual([row.vm_state, row.task_state, row.host, row.node], [VmState.BUILDING, TaskState.SCHEDULING, null, null]);
      const rescheduled = conductor.buildFailures.find((b) => b.uuid === first.spec.uuid)!;
      assert.equal(rescheduled.retryable, true);
      assert.deepEqual(rescheduled.retry, retry);
      assert.deepEqual(rescheduled.host_list, host_list);
      assert.match(rescheduled.fault.message, /injected spawn failure/);
      assert.deepEqual(conductor.faults, [], 'the conductor records the fault only if no host is left');

      const second = await boot({ metadata: { fake_fail: 'spawn_abort' } }, { retry, host_list });
      assert.equal(conductor.row(second.spec.uuid).vm_state, VmState.ERROR);
      assert.equal(conductor.buildFailures.find((b) => b.uuid === second.spec.uuid)!.retryable, false);
    }),
  );

  test(
    'reboot, stop, start, pause, unpause, suspend, resume: Nova’s task_state transitions and power states',
    withAgent(async ({ conductor, boot, act }) => {
      const { spec } = await boot();
      const { uuid } = spec;
      const steps: [Parameters<Env['act']>[0], TaskState, Partial<ComputeCasts[keyof ComputeCasts]>, TaskState[], Snapshot][] = [
        ['reboot_instance', TaskState.REBOOTING, { reboot_type: 'SOFT' }, [TaskState.REBOOT_PENDING, TaskState.REBOOT_STARTED], [VmState.ACTIVE, null, PowerState.RUNNING]],
        ['reboot_instance', TaskState.REBOOTING_HARD, { reboot_type: 'HARD' }, [TaskState.REBOOT_PENDING_HARD, TaskState.REBOOT_STARTED_HARD], [VmState.ACTIVE, null, PowerState.RUNNING]],
        ['stop_instance', TaskState.POWERING_OFF, { clean_shutdown: true }, [], [VmState.STOPPED, null, PowerState.SHUTDOWN]],
        ['start_instance', TaskState.POWERING_ON, {}, [], [VmState.ACTIVE, null, PowerState.RUNNING]],
        ['pause_instance', TaskState.PAUSING, {}, [], [VmState.PAUSED, null, PowerState.PAUSED]],
        ['unpause_instance', TaskState.UNPAUSING, {}, [], [VmState.ACTIVE, null, PowerState.RUNNING]],
        ['suspend_instance', TaskState.SUSPENDING, {}, [], [VmState.SUSPENDED, null, PowerState.SUSPENDED]],
        ['resume_instance', TaskState.RESUMING, {}, [], [VmState.ACTIVE, null, PowerState.RUNNING]],
      ];
      for (const [method, task, extra, between, end] of steps) {
        const before = conductor.taskStates(uuid).length;
        const finish = await act(method, uuid, task, extra as never);
        assert.equal(finish.result, 'Success', method);
        assert.equal(finish.event, `compute_${method}`);
        assert.deepEqual(conductor.taskStates(uuid).slice(before), [...between, null], `${method} task states`);
        assert.deepEqual(snapshot(conductor.row(uuid)), end, method);
      }
      assert.deepEqual(conductor.faults, []);
    }),
  );

  test(
    'a failing action: fault, task_state back to null, vm_state kept; a failed reboot of a running guest only records a fault',
    withAgent(async ({ conductor, boot, act }) => {
      const { spec } = await boot({ metadata: { fake_fail: 'pause,reboot' } });
      const pause = await act('pause_instance', spec.uuid, TaskState.PAUSING);
      assert.equal(pause.result, 'Error');
      assert.deepEqual(snapshot(conductor.row(spec.uuid)), [VmState.ACTIVE, null, PowerState.RUNNING]);
      assert.match(conductor.faults.at(-1)!.message, /injected pause failure/);

      const reboot = await act('reboot_instance', spec.uuid, TaskState.REBOOTING, { reboot_type: 'SOFT' });
      assert.equal(reboot.result, 'Success', 'Nova swallows a reboot failure when the guest runs');
      assert.deepEqual(snapshot(conductor.row(spec.uuid)), [VmState.ACTIVE, null, PowerState.RUNNING]);
      assert.match(conductor.faults.at(-1)!.message, /injected reboot failure/);
      assert.equal(conductor.faults.length, 2);
    }),
  );

  test(
    'terminate destroys the guest and reports deleted',
    withAgent(async ({ conductor, driver, boot, act }) => {
      const { spec } = await boot();
      const finish = await act('terminate_instance', spec.uuid, TaskState.DELETING);
      assert.equal(finish.action, 'delete');
      assert.equal(finish.event, 'compute_terminate_instance');
      const row = conductor.row(spec.uuid);
      assert.deepEqual(snapshot(row), [VmState.DELETED, null, PowerState.NOSTATE]);
      assert.ok(row.terminated_at);
      assert.deepEqual(await driver.listInstances(), []);
    }),
  );

  test(
    'one instance’s actions run one at a time in arrival order (a delete during the build waits, then wins); others are not held up',
    withAgent(async ({ conductor, driver, boot, act, castBuild }) => {
      const slow = sampleInstance({ metadata: { fake_spawn_ms: '150' } });
      const slowBuild = await castBuild(slow);
      await until(() => conductor.row(slow.uuid).task_state === TaskState.SPAWNING, 2000, 'spawning');
      // The API deletes while the guest spawns: terminate queues behind the build.
      const deleting = act('terminate_instance', slow.uuid, TaskState.DELETING);
      const other = await boot();
      assert.equal(conductor.row(other.spec.uuid).vm_state, VmState.ACTIVE);
      assert.equal(conductor.finished(slowBuild), undefined, 'the slow build is still running');
      await deleting;
      const order = conductor.events.filter((e) => e.uuid === slow.uuid).map((e) => `${e.event}:${e.finish ? 'end' : 'start'}`);
      assert.deepEqual(order, ['compute_build_and_run_instance:start', 'compute_build_and_run_instance:end', 'compute_terminate_instance:start', 'compute_terminate_instance:end']);
      // The build's last update was refused (deleting): it released its claim and left the guest to terminate.
      assert.equal(conductor.finished(slowBuild)!.result, 'Error');
      assert.ok(conductor.refused.some((r) => r.update.uuid === slow.uuid && r.result.reason === 'deleting'));
      assert.equal(conductor.buildFailures.find((b) => b.uuid === slow.uuid)!.retryable, false);
      assert.deepEqual(snapshot(conductor.row(slow.uuid)), [VmState.DELETED, null, PowerState.NOSTATE]);
      assert.deepEqual(await driver.listInstances(), [{ uuid: other.spec.uuid, name: other.spec.name }]);
    }),
  );

  test(
    'rebuild re-makes the guest from the new image; a stopped instance ends stopped again',
    withAgent(async ({ conductor, driver, boot, act, host, bus }) => {
      const api = computeClient(bus, host);
      const rebuild = async (spec: InstanceSpec, imageId: string) => {
        conductor.setTask(spec.uuid, TaskState.REBUILDING);
        const row = conductor.row(spec.uuid);
        const requestId = `req-${randomUUID()}`;
        await api.cast('rebuild_instance', {
          request_id: requestId,
          instance: { ...spec, vm_state: row.vm_state, task_state: TaskState.REBUILDING },
          image: { ...sampleImage, id: imageId },
          orig_image_ref: sampleImage.id,
          network_info: [],
          block_device_info: emptyBlockDeviceInfo(),
        });
        await until(() => conductor.eventsOf(requestId).filter((e) => e.finish).length >= (row.vm_state === VmState.STOPPED ? 2 : 1), 5000, 'the rebuild');
        return conductor.taskStates(spec.uuid);
      };
      const { spec } = await boot();
      const states = await rebuild(spec, 'new-image');
      assert.deepEqual(states.slice(-4), [TaskState.REBUILDING, TaskState.REBUILD_BLOCK_DEVICE_MAPPING, TaskState.REBUILD_SPAWNING, null]);
      assert.deepEqual(snapshot(conductor.row(spec.uuid)), [VmState.ACTIVE, null, PowerState.RUNNING]);
      assert.match(await driver.getConsoleOutput(spec), /created from image new-image/);

      await act('stop_instance', spec.uuid, TaskState.POWERING_OFF, { clean_shutdown: false });
      const after = await rebuild(spec, 'newer-image');
      assert.deepEqual(after.slice(-2), [TaskState.POWERING_OFF, null]);
      assert.deepEqual(snapshot(conductor.row(spec.uuid)), [VmState.STOPPED, null, PowerState.SHUTDOWN]);
    }),
  );

  test(
    'get_console_output is a call: the log, its tail, and InstanceNotFound',
    withAgent(async ({ boot, bus, host }) => {
      const { spec } = await boot();
      const api = computeClient(bus, host);
      const all = await api.call('get_console_output', { instance: spec }, { timeoutMs: 2000 });
      assert.match(all, /booting/);
      assert.equal(await api.call('get_console_output', { instance: spec, tail_length: 1 }, { timeoutMs: 2000 }), `${spec.hostname} login:`);
      await assert.rejects(api.call('get_console_output', { instance: { uuid: 'nope', name: 'nope' } }, { timeoutMs: 2000 }), (e: unknown) => {
        assert.ok(e instanceof BusRemoteError);
        assert.equal(e.remoteName, 'InstanceNotFound');
        return true;
      });
    }),
  );

  test(
    'heartbeats every report interval with a growing report_count',
    withAgent(
      async ({ conductor }) => {
        const from = Date.now();
        await until(() => conductor.services.length >= 6, 3000, 'five heartbeats');
        const elapsed = Date.now() - from;
        const beats = conductor.services.filter((s) => s.event === 'heartbeat');
        assert.ok(elapsed >= 350 && elapsed < 1500, `five 100 ms heartbeats took ${elapsed} ms`);
        assert.deepEqual(
          beats.map((b) => b.report_count),
          beats.map((_, i) => i + 2),
        );
        const gaps = beats.slice(1).map((b, i) => Date.parse(b.sent_at) - Date.parse(beats[i].sent_at));
        for (const gap of gaps) assert.ok(gap >= 50 && gap <= 600, `heartbeat gap ${gap} ms`);
        assert.equal(beats[0].report_interval, 1);
      },
      { reportIntervalMs: 100 },
    ),
  );

  test(
    'power sync: a guest shut down from inside is reported SHUTDOWN, then stopped, by the periodic task',
    withAgent(
      async ({ conductor, driver, boot }) => {
        const { spec } = await boot();
        const paused = await boot();
        driver.setPowerState(spec.uuid, PowerState.SHUTDOWN);
        await until(() => conductor.row(spec.uuid).vm_state === VmState.STOPPED && conductor.row(spec.uuid).task_state === null, 3000, 'the sync to stop it');
        const tail = (conductor.history.get(spec.uuid) ?? []).slice(-3);
        assert.deepEqual(tail, [
          [VmState.ACTIVE, null, PowerState.SHUTDOWN],
          [VmState.ACTIVE, TaskState.POWERING_OFF, PowerState.SHUTDOWN],
          [VmState.STOPPED, null, PowerState.SHUTDOWN],
        ]);
        const stopEvent = () => conductor.events.find((e) => e.uuid === spec.uuid && e.event === 'compute_stop_instance' && e.finish);
        await until(stopEvent, 2000, 'the stop event');
        const stop = stopEvent()!;
        assert.equal(stop.action, 'stop');
        assert.equal(stop.result, 'Success');

        // Paused from outside while active: the power state is reported, the vm_state left alone (as Nova).
        driver.setPowerState(paused.spec.uuid, PowerState.PAUSED);
        await until(() => conductor.row(paused.spec.uuid).power_state === PowerState.PAUSED, 3000, 'the paused power state');
        await sleep(300);
        assert.deepEqual(snapshot(conductor.row(paused.spec.uuid)), [VmState.ACTIVE, null, PowerState.PAUSED]);
      },
      { syncIntervalMs: 100 },
    ),
  );

  test(
    'a lifecycle event from the driver triggers a sync of that instance',
    withAgent(async ({ conductor, driver, boot }) => {
      const { spec } = await boot();
      driver.setPowerState(spec.uuid, PowerState.CRASHED, { event: true });
      await until(() => conductor.row(spec.uuid).vm_state === VmState.STOPPED, 3000, 'the crashed instance to be stopped');
      assert.equal(conductor.row(spec.uuid).power_state, PowerState.SHUTDOWN);
    }),
  );

  test(
    'a restarted agent adopts running guests, finishes or undoes half-done work, and reports mismatches',
    withAgent(async ({ conductor, driver, boot, agent, restart, host }) => {
      const adopted = await boot();
      const vanished = await boot();
      const stopping = await boot();
      const rebooting = await boot();
      const offInside = await boot();
      await agent.stop();
      await until(() => conductor.services.at(-1)!.event === 'stop', 2000, 'the stop report');

      // While no agent ran: a guest vanished, one shut down, the API cast actions nobody served yet…
      driver.vanish(vanished.spec.uuid);
      driver.setPowerState(offInside.spec.uuid, PowerState.SHUTDOWN);
      conductor.setTask(stopping.spec.uuid, TaskState.POWERING_OFF);
      conductor.setTask(rebooting.spec.uuid, TaskState.REBOOT_PENDING_HARD);
      const building = sampleInstance();
      conductor.place(building, host, { task_state: TaskState.SPAWNING });
      driver.addGuest({ uuid: 'stray-uuid', name: 'instance-stray' });

      const second = await restart();
      await second.idle();
      await until(() => conductor.reconciles.length === 2, 2000, 'the second reconcile report');
      const report = conductor.reconciles[1];
      assert.deepEqual(report.adopted.sort(), [adopted, stopping, rebooting, offInside].map((b) => b.spec.uuid).sort());
      assert.deepEqual(report.missing.sort(), [vanished.spec.uuid, building.uuid].sort());
      assert.deepEqual(report.unknown, [{ uuid: 'stray-uuid', name: 'instance-stray' }]);

      assert.deepEqual(snapshot(conductor.row(adopted.spec.uuid)), [VmState.ACTIVE, null, PowerState.RUNNING]);
      assert.deepEqual(snapshot(conductor.row(vanished.spec.uuid)), [VmState.ACTIVE, null, PowerState.NOSTATE]);
      assert.deepEqual(snapshot(conductor.row(stopping.spec.uuid)), [VmState.STOPPED, null, PowerState.SHUTDOWN]);
      assert.deepEqual(snapshot(conductor.row(rebooting.spec.uuid)), [VmState.ACTIVE, null, PowerState.RUNNING]);
      assert.deepEqual(conductor.taskStates(rebooting.spec.uuid).slice(-3), [TaskState.REBOOT_PENDING_HARD, TaskState.REBOOT_STARTED_HARD, null]);
      assert.deepEqual(snapshot(conductor.row(offInside.spec.uuid)), [VmState.ACTIVE, null, PowerState.SHUTDOWN], 'reported at start; the sync stops it');
      const broken = conductor.row(building.uuid);
      assert.deepEqual([broken.vm_state, broken.task_state], [VmState.ERROR, null]);
      assert.match(conductor.faults.find((f) => f.uuid === building.uuid)!.message, /restarted while the instance was being built/);
      assert.ok(conductor.services.filter((s) => s.event === 'start').length === 2);

      await second.syncPowerStates();
      assert.deepEqual(snapshot(conductor.row(offInside.spec.uuid)), [VmState.STOPPED, null, PowerState.SHUTDOWN]);
    }),
  );
});

// ─── distributed: the agent and the conductor on separate RabbitMQ connections ───

const rabbitUrl = process.env.NUBO_TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const prefix = `nubo-test-${randomBytes(4).toString('hex')}`;
const rabbitHosts: string[] = [];

describe('compute agent over RabbitMQ', () => {
  test('registers, builds, reboots, answers a call and terminates across processes', async () => {
    const agentBus = await createRabbitBus(rabbitUrl, { logger, prefix, closeGraceMs: 500, callTimeoutMs: 5000 });
    const apiBus = await createRabbitBus(rabbitUrl, { logger, prefix, closeGraceMs: 500, callTimeoutMs: 5000 });
    const env = await startEnv(agentBus, apiBus, { reportIntervalMs: 200 });
    rabbitHosts.push(env.host);
    try {
      const { conductor, boot, act } = env;
      const { spec } = await boot({ metadata: { fake_spawn_ms: '50' } });
      assert.deepEqual(snapshot(conductor.row(spec.uuid)), [VmState.ACTIVE, null, PowerState.RUNNING]);
      assert.deepEqual(conductor.taskStates(spec.uuid), [null, TaskState.NETWORKING, TaskState.BLOCK_DEVICE_MAPPING, TaskState.SPAWNING, null]);
      await act('reboot_instance', spec.uuid, TaskState.REBOOTING_HARD, { reboot_type: 'HARD' });
      assert.deepEqual(snapshot(conductor.row(spec.uuid)), [VmState.ACTIVE, null, PowerState.RUNNING]);
      const console = await computeClient(apiBus, env.host).call('get_console_output', { instance: spec, tail_length: 1 }, { timeoutMs: 5000 });
      assert.equal(console, `${spec.hostname} login:`);
      await until(() => conductor.services.some((s) => s.event === 'heartbeat'), 3000, 'a heartbeat');
      await act('terminate_instance', spec.uuid, TaskState.DELETING);
      assert.deepEqual(snapshot(conductor.row(spec.uuid)), [VmState.DELETED, null, PowerState.NOSTATE]);
    } finally {
      await env.close();
      await agentBus.close();
      await apiBus.close();
    }
  });
});

after(async () => {
  if (rabbitHosts.length === 0) return;
  // The topic queues are durable: remove what this run declared.
  const conn = await amqp.connect(rabbitUrl);
  try {
    const ch = await conn.createChannel();
    for (const topic of [CONDUCTOR_TOPIC, ...rabbitHosts.map(computeTopic)]) await ch.deleteQueue(`${prefix}.topic.${topic}`);
    await ch.deleteExchange(`${prefix}.events`);
    await ch.close();
  } finally {
    await conn.close();
  }
});

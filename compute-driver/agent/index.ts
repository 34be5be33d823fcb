/**
 * The compute agent: one per hypervisor host, no database (Nova's
 * nova-compute). It
 * - registers its host (service_update start, with the driver's resources)
 *   and heartbeats every reportIntervalMs;
 * - reconciles at start: asks the conductor what should be on this host
 *   (instances_on_host), adopts the guests the driver still runs, finishes or
 *   undoes what a previous run left half done, and reports mismatches;
 * - serves compute.<host>, running each action through the driver one at a
 *   time per instance, in arrival order (flows.ts, build.ts);
 * - syncs power states every syncIntervalMs, and soon after a driver's
 *   lifecycle event (sync.ts).
 * Messages and states: rpc.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bus, Subscription } from '../../lib/bus/bus.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { NotSupported, tailLines, type ComputeDriver } from '../driver.ts';
import { COMPUTE_BINARY, COMPUTE_RPC_VERSION, computeClient, computeTopic, type ComputeCasts, type ComputeServer, type InstanceOnHost, type ReconcileReport } from '../rpc.ts';
import { buildAndRunInstance } from './build.ts';
import { createConsoleListener, type ConsoleListenerOptions } from './console-listener.ts';
import {
  pauseInstance,
  rebootInstance,
  rebuildInstance,
  resumeInstance,
  startInstance,
  stopInstance,
  suspendInstance,
  terminateInstance,
  unpauseInstance,
  type FlowContext,
} from './flows.ts';
import { AgentStopping, createReporter, now } from './reporter.ts';
import { KeyedSerializer } from './serializer.ts';
import { cleanupMigration } from './move-cleanup.ts';
import { confirmResize, finishResize, finishRevertResize, resizeInstance, revertResize } from './resize.ts';
import { snapshotInstance } from './snapshot.ts';
import { initInstance, syncInstance } from './sync.ts';

export interface ComputeAgentOptions {
  bus: Bus;
  driver: ComputeDriver;
  /** The host name: the agent serves compute.<host>. */
  host: string;
  logger?: Logger;
  /** Between heartbeats (compute.report_interval). Default 10 s. */
  reportIntervalMs?: number;
  /** Between power-state syncs (compute.sync_power_state_interval); 0 or less disables them. Default 60 s. */
  syncIntervalMs?: number;
  /** How long a clean shutdown waits for the guest (compute.shutdown_timeout). Default 60. */
  shutdownTimeoutSec?: number;
  /** Seconds between shutdown requests to the guest while waiting. Default 10. */
  shutdownRetryIntervalSec?: number;
  /** Timeout of calls to the conductor; the bus's default unless given. */
  callTimeoutMs?: number;
  /** Backoff of a retried instance_update: first delay and cap. Default 500 ms → 30 s. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How long stop() lets running actions finish. Default 30 s. */
  drainMs?: number;
  /** Delay between a driver lifecycle event and the sync of that instance (Nova waits 15 s). Default 15 s. */
  lifecycleDelayMs?: number;
  /** Where the console listener listens and what get_console_target answers (agent/console-listener.ts). */
  console?: Pick<ConsoleListenerOptions, 'listen' | 'port' | 'address' | 'secretTtlMs'>;
}

export interface ComputeAgent {
  readonly host: string;
  /** The hypervisor's node name (known after start). */
  readonly node: string;
  start(): Promise<void>;
  /** Stops serving, lets running actions finish (up to drainMs), reports `stop`. Guests keep running. */
  stop(): Promise<void>;
  /** One power-state sync now, over every instance or those in `only`. */
  syncPowerStates(only?: string[]): Promise<void>;
  /** Reconciles with the conductor's view; null when the conductor could not be asked. */
  reconcile(): Promise<ReconcileReport | null>;
  /** Resolves when no action is running or queued. */
  idle(): Promise<void>;
}

export function createComputeAgent(opts: ComputeAgentOptions): ComputeAgent {
  const { bus, driver, host } = opts;
  const log = (opts.logger ?? createLogger({ name: 'nubo-compute' })).child({ component: 'compute-agent', host });
  const reportIntervalMs = opts.reportIntervalMs ?? 10_000;
  const syncIntervalMs = opts.syncIntervalMs ?? 60_000;
  const abort = new AbortController();
  const report = createReporter({
    bus,
    host,
    log,
    signal: abort.signal,
    callTimeoutMs: opts.callTimeoutMs,
    retryMinMs: opts.retryMinMs,
    retryMaxMs: opts.retryMaxMs,
  });
  const ctx: FlowContext = {
    driver,
    report,
    host,
    node: host,
    log,
    shutdownTimeoutSec: opts.shutdownTimeoutSec ?? 60,
    shutdownRetryIntervalSec: opts.shutdownRetryIntervalSec ?? 10,
    peer: (other) => computeClient(bus, other),
  };
  const consoles = createConsoleListener({ driver, log, ...opts.console });
  const locks = new KeyedSerializer();
  /** When each instance last had an action start or end: a sync based on an older view leaves it alone. */
  const touched = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let subscription: Subscription | undefined;
  let reportCount = 0;
  let startedAt = '';
  let reconciled = false;
  let periodicRunning = false;
  let stopping = false;

  /**
   * Runs `fn` under the instance's lock, marking the instance touched when it
   * ends and, for an action (not a sync, which checks the marks), also when it
   * is queued and starts.
   */
  const locked = (uuid: string, what: string, fn: () => Promise<void>, action = true): Promise<void> => {
    if (action) touched.set(uuid, Date.now());
    return locks
      .run(uuid, async () => {
        if (action) touched.set(uuid, Date.now());
        try {
          await fn();
        } finally {
          touched.set(uuid, Date.now());
        }
      })
      .catch((e) => {
        if (!(e instanceof AgentStopping)) log.error({ err: e, uuid, what }, 'instance work failed');
      });
  };

  /** A cast handler: accept at once, run in the background under the instance's lock. */
  const accept =
    <M extends keyof ComputeCasts>(method: M, flow: (c: FlowContext, msg: ComputeCasts[M]) => Promise<void>) =>
    (msg: ComputeCasts[M]): void => {
      const uuid = msg?.instance?.uuid;
      if (typeof uuid !== 'string') {
        log.error({ method }, 'message without instance.uuid dropped');
        return;
      }
      log.info({ uuid, method, request_id: msg.request_id }, 'accepted');
      void locked(uuid, method, () => flow(ctx, msg));
    };

  const handlers: ComputeServer = {
    build_and_run_instance: accept('build_and_run_instance', buildAndRunInstance),
    reboot_instance: accept('reboot_instance', rebootInstance),
    stop_instance: accept('stop_instance', stopInstance),
    start_instance: accept('start_instance', startInstance),
    pause_instance: accept('pause_instance', pauseInstance),
    unpause_instance: accept('unpause_instance', unpauseInstance),
    suspend_instance: accept('suspend_instance', suspendInstance),
    resume_instance: accept('resume_instance', resumeInstance),
    rebuild_instance: accept('rebuild_instance', rebuildInstance),
    terminate_instance: accept('terminate_instance', terminateInstance),
    snapshot_instance: accept('snapshot_instance', snapshotInstance),
    resize_instance: accept('resize_instance', resizeInstance),
    finish_resize: accept('finish_resize', finishResize),
    confirm_resize: accept('confirm_resize', confirmResize),
    revert_resize: accept('revert_resize', revertResize),
    finish_revert_resize: accept('finish_revert_resize', finishRevertResize),
    cleanup_migration: accept('cleanup_migration', cleanupMigration),
    get_console_output: async ({ instance, tail_length }) => tailLines(await driver.getConsoleOutput(instance, tail_length), tail_length),
    get_host_uptime: async () => {
      if (!driver.getHostUptime) throw new NotSupported('get_host_uptime');
      return driver.getHostUptime();
    },
    get_console_target: (args) => consoles.target(args),
  };

  async function reportState(event: 'start' | 'heartbeat' | 'stop'): Promise<void> {
    try {
      const [resources, guests] = await Promise.all([driver.getAvailableResources(), driver.listInstances()]);
      await report.service({
        host,
        node: ctx.node,
        binary: COMPUTE_BINARY,
        topic: computeTopic(host),
        event,
        report_count: ++reportCount,
        report_interval: Math.max(1, Math.round(reportIntervalMs / 1000)),
        started_at: startedAt,
        sent_at: now(),
        rpc_version: COMPUTE_RPC_VERSION,
        driver: driver.type,
        resources,
        capabilities: driver.capabilities,
        instance_count: guests.length,
      });
    } catch (e) {
      log.error({ err: e, event }, 'could not report the service state');
    }
  }

  /** Ours to look at: placed on this host (or on none), as Nova's _init_instance and sync check. */
  const mine = (inst: InstanceOnHost) => {
    if (inst.host && inst.host !== host) {
      log.warn({ uuid: inst.uuid, owner: inst.host }, 'instance appears to be owned by another host; skipped');
      return false;
    }
    return true;
  };

  async function reconcile(): Promise<ReconcileReport | null> {
    let view: InstanceOnHost[];
    try {
      view = await report.instancesOnHost();
    } catch (e) {
      log.warn({ err: e }, 'could not ask the conductor for the instances of this host; reconciling later');
      return null;
    }
    const guests = await driver.listInstances();
    const present = new Set(guests.map((g) => g.uuid));
    const placed = new Set(view.map((i) => i.uuid));
    const result: ReconcileReport = {
      host,
      adopted: [],
      missing: [],
      unknown: guests.filter((g) => !placed.has(g.uuid)),
    };
    const work: Promise<void>[] = [];
    for (const inst of view.filter(mine)) {
      (present.has(inst.uuid) ? result.adopted : result.missing).push(inst.uuid);
      work.push(locked(inst.uuid, 'reconcile', () => initInstance(ctx, inst)));
    }
    reconciled = true;
    await Promise.all(work);
    for (const g of result.unknown) log.warn({ uuid: g.uuid, name: g.name }, 'the hypervisor runs a guest the conductor does not place on this host');
    log.info({ adopted: result.adopted.length, missing: result.missing.length, unknown: result.unknown.length }, 'reconciled with the conductor');
    await report.reconciled(result);
    return result;
  }

  async function syncPowerStates(only?: string[]): Promise<void> {
    const since = Date.now();
    let view: InstanceOnHost[];
    try {
      view = await report.instancesOnHost();
    } catch (e) {
      log.warn({ err: e }, 'power state sync skipped: the conductor did not answer');
      return;
    }
    if (!only) {
      const guests = (await driver.listInstances()).length;
      if (guests !== view.length) log.warn({ conductor: view.length, hypervisor: guests }, 'instance counts differ between the conductor and the hypervisor');
    }
    const fresh = (uuid: string) => (touched.get(uuid) ?? 0) < since;
    if (!only) {
      // Forget the marks of instances long gone from this host.
      const placed = new Set(view.map((i) => i.uuid));
      for (const [uuid, at] of touched) if (!placed.has(uuid) && at < since - 600_000 && !locks.busy(uuid)) touched.delete(uuid);
    }
    await Promise.all(
      view
        .filter((inst) => (!only || only.includes(inst.uuid)) && mine(inst))
        // Busy: an action or a sync holds it; the next round looks again.
        .filter((inst) => fresh(inst.uuid) && !locks.busy(inst.uuid))
        .map((inst) => locked(inst.uuid, 'sync', async () => (fresh(inst.uuid) ? syncInstance(ctx, inst) : undefined), false)),
    );
  }

  /** A periodic task: skipped while its previous run is still going. */
  const every = (ms: number, task: () => Promise<unknown>) => {
    const timer = setInterval(() => {
      if (periodicRunning || stopping) return;
      periodicRunning = true;
      task()
        .catch((e) => log.error({ err: e }, 'periodic task failed'))
        .finally(() => (periodicRunning = false));
    }, ms);
    timers.add(timer);
  };

  return {
    host,
    get node() {
      return ctx.node;
    },

    async start() {
      await driver.init(host);
      ctx.node = (await driver.getAvailableResources()).hypervisor_hostname || host;
      startedAt = now();
      await consoles.start();
      await reportState('start');
      // Reconciling queues its work on the instance locks first: messages that waited for this agent run after it.
      const reconciling = reconcile();
      subscription = await bus.serve(computeTopic(host), handlers);
      if (stopping) {
        // stop() came while starting.
        await subscription.close();
        return;
      }
      log.info({ topic: computeTopic(host) }, 'serving');
      driver.onLifecycleEvent?.((event) => {
        if (stopping) return;
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!stopping) void syncPowerStates([event.uuid]);
        }, opts.lifecycleDelayMs ?? 15_000);
        timers.add(timer);
      });
      const heartbeat = setInterval(() => void reportState('heartbeat'), reportIntervalMs);
      timers.add(heartbeat);
      if (syncIntervalMs > 0) every(syncIntervalMs, () => (reconciled ? syncPowerStates() : reconcile()));
      await reconciling;
      if (!stopping) log.info({ node: ctx.node, driver: driver.type }, 'compute agent started');
    },

    async stop() {
      if (stopping) return;
      stopping = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      driver.onLifecycleEvent?.(null);
      await subscription?.close();
      const grace = new AbortController();
      const drained = await Promise.race([
        locks.idle().then(() => true),
        sleep(opts.drainMs ?? 30_000, false, { signal: grace.signal }).catch(() => true),
      ]);
      grace.abort();
      if (!drained) log.warn('stopping with instance actions still running');
      abort.abort();
      await reportState('stop');
      await consoles.stop();
      await driver.cleanupHost(host);
      log.info('compute agent stopped');
    },

    syncPowerStates,
    reconcile,
    idle: () => locks.idle(),
  };
}

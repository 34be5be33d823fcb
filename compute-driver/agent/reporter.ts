/**
 * How the agent talks to the conductor (rpc.ts, topic `conductor`).
 * instance_update is a call retried until the conductor answers (state must
 * not be lost, and one instance's updates must land in order); the casts are
 * best-effort and logged when the bus refuses them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BusRemoteError, type Bus } from '../../lib/bus/bus.ts';
import type { Logger } from '../../lib/log.ts';
import { DriverError } from '../driver.ts';
import {
  conductorClient,
  type BuildFailed,
  type ConductorCasts,
  type Fault,
  type InstanceActionEvent,
  type InstanceOnHost,
  type InstanceUpdate,
  type InstanceUpdateResult,
  type MigrationCleaned,
  type ReconcileReport,
  type ServiceUpdate,
} from '../rpc.ts';

/** The agent is stopping: what was under way gives up without reporting more. */
export class AgentStopping extends Error {
  constructor() {
    super('the compute agent is stopping');
    this.name = 'AgentStopping';
  }
}

/** The conductor refused a conditional update (Nova's UnexpectedTaskStateError): the task was preempted. */
export class Preempted extends Error {
  constructor(
    readonly uuid: string,
    readonly result: InstanceUpdateResult,
  ) {
    super(`update of instance ${uuid} refused: ${result.reason ?? 'refused'} (vm_state ${result.vm_state ?? '?'}, task_state ${result.task_state ?? 'null'})`);
    this.name = 'Preempted';
  }
}

export type UpdateFields = Omit<InstanceUpdate, 'uuid' | 'from_host' | 'seq' | 'request_id'>;

export const now = () => new Date().toISOString();

/**
 * An instance fault from an error, as Nova's exception_to_dict: a driver's
 * message (255 characters at most) or, for anything else, only the error's
 * name, so that internals never reach users; the stack goes to details.
 */
export function faultFrom(e: unknown, host: string): Fault {
  const err = e instanceof Error ? e : new Error(String(e));
  const driverError = err instanceof DriverError || err instanceof Preempted;
  const message = (driverError ? err.message : err.name) || 'Error';
  return {
    code: err instanceof DriverError ? err.code : 500,
    message: message.length > 255 ? message.slice(0, 255) : message,
    details: err.stack ?? message,
    host,
    created_at: now(),
  };
}

export interface ReporterOptions {
  bus: Bus;
  host: string;
  log: Logger;
  /** Ends the retries of instance_update. */
  signal: AbortSignal;
  callTimeoutMs?: number;
  /** Backoff between instance_update attempts: first delay and cap. Default 500 ms → 30 s. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export type Reporter = ReturnType<typeof createReporter>;

export function createReporter(opts: ReporterOptions) {
  const { host, log, signal } = opts;
  const conductor = conductorClient(opts.bus);
  const timeout = opts.callTimeoutMs === undefined ? {} : { timeoutMs: opts.callTimeoutMs };
  const retryMinMs = opts.retryMinMs ?? 500;
  const retryMaxMs = opts.retryMaxMs ?? 30_000;
  let lastSeq = 0;
  const nextSeq = () => (lastSeq = Math.max(Date.now() * 1000, lastSeq + 1));

  const pause = async (ms: number) => {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      throw new AgentStopping();
    }
  };

  /** Sends one instance_update, retrying until the conductor answers or the agent stops. */
  async function update(uuid: string, requestId: string | undefined, fields: UpdateFields): Promise<InstanceUpdateResult> {
    const msg: InstanceUpdate = { uuid, from_host: host, seq: nextSeq(), ...(requestId ? { request_id: requestId } : {}), ...fields };
    let delay = retryMinMs;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw new AgentStopping();
      try {
        // A conductor that serves instance_update like a cast answers nothing: that counts as applied.
        return (await conductor.call('instance_update', msg, timeout)) ?? { applied: true };
      } catch (e) {
        if (e instanceof BusRemoteError && e.remoteName === 'NoSuchMethod') {
          log.error({ err: e, uuid }, 'the conductor does not serve instance_update; update dropped');
          return { applied: true };
        }
        log.warn({ err: e, uuid, attempt }, 'instance_update failed; retrying');
        await pause(delay);
        delay = Math.min(delay * 2, retryMaxMs);
      }
    }
  }

  /** An update that must apply: throws Preempted when the conductor refuses it. */
  async function save(uuid: string, requestId: string | undefined, fields: UpdateFields): Promise<void> {
    const result = await update(uuid, requestId, fields);
    if (!result.applied) throw new Preempted(uuid, result);
  }

  async function cast<M extends keyof ConductorCasts & string>(method: M, args: ConductorCasts[M]): Promise<void> {
    try {
      await conductor.cast(method, args);
    } catch (e) {
      log.error({ err: e, method }, 'could not send to the conductor');
    }
  }

  return {
    update,
    save,
    event: (e: InstanceActionEvent) => cast('instance_action_event', e),
    buildFailed: (b: BuildFailed) => cast('build_failed', b),
    service: (s: ServiceUpdate) => cast('service_update', s),
    reconciled: (r: ReconcileReport) => cast('reconcile_report', r),
    migrationCleaned: (m: MigrationCleaned) => cast('migration_cleaned', m),
    instancesOnHost: (): Promise<InstanceOnHost[]> => conductor.call('instances_on_host', { host }, timeout),
  };
}

/**
 * The conductor (Nova's nova-conductor with the scheduler in the same
 * process): it serves
 * - topic `scheduler` (SCHEDULER_TOPIC): build_instances from the API →
 *   schedule, claim, cast build_and_run_instance to the host (build.ts);
 *   resize_instance → claim a destination, cast resize_instance to the
 *   source host (resize.ts);
 * - topic `conductor` (CONDUCTOR_TOPIC): what the compute agents report
 *   (handlers.ts);
 * and sweeps periodically for builds a crash or a lost message left stuck
 * and for leaked claims (sweep.ts). Any number of conductors may run against
 * one database: scheduling leases and conditional updates keep them apart.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CONDUCTOR_TOPIC } from '../../compute-driver/rpc.ts';
import type { Bus, Subscription } from '../../lib/bus/bus.ts';
import type { Config } from '../../lib/config/index.ts';
import type { Db } from '../../lib/db/index.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import type { TokenService } from '../../lib/tokens/claims.ts';
import { createPlacement } from '../placement/service.ts';
import { SCHEDULER_TOPIC, type SchedulerServer } from '../rpc.ts';
import type { SelectOptions } from '../select.ts';
import { inventoryPolicy, schedulerOptions, type SchedulerOptions } from '../state.ts';
import { buildInstances } from './build.ts';
import type { ConductorContext } from './context.ts';
import { conductorHandlers } from './handlers.ts';
import { recentImageEndpoint } from './image-endpoint.ts';
import { instanceUserToken } from './image-token.ts';
import { resizeInstance } from './resize.ts';
import { sweep, type SweepResult } from './sweep.ts';

export type { ConductorContext } from './context.ts';

export interface ConductorOptions {
  db: Db;
  bus: Bus;
  config: Config;
  logger?: Logger;
  /** Overrides of the scheduler.* options (tests). */
  scheduler?: Partial<SchedulerOptions>;
  /** scheduler.build_timeout in ms, unless given. */
  buildTimeoutMs?: number;
  /** scheduler.sweep_interval in ms, unless given; 0 disables the periodic sweep. */
  sweepIntervalMs?: number;
  now?: () => Date;
  select?: SelectOptions;
  /**
   * Test knob: ms each claim pauses inside its transaction (PlacementOptions.claimPauseMs);
   * unless given, the environment variable NUBO_TEST_CLAIM_PAUSE_MS, which
   * only the fault tests set (test/integration/compute-faults-scheduler.test.ts).
   */
  claimPauseMs?: number;
  /** compute.allow_resize_to_same_host, unless given. */
  allowResizeToSameHost?: boolean;
  /** scheduler.move_timeout in ms, unless given. */
  moveTimeoutMs?: number;
  /**
   * Issues the tokens agents download images with (image-token.ts); without
   * it messages carry no token and only a driver that needs none (fake) builds.
   */
  tokens?: TokenService;
}

export interface Conductor {
  readonly context: ConductorContext;
  /** Serves both topics and starts the periodic sweep. */
  start(): Promise<void>;
  /** Stops serving (what is being handled finishes) and sweeping. */
  stop(): Promise<void>;
  /** One sweep now. */
  sweep(): Promise<SweepResult>;
}

export function createConductor(opts: ConductorOptions): Conductor {
  const { db, bus, config } = opts;
  const log = (opts.logger ?? createLogger({ name: 'nubo-scheduler' })).child({ component: 'conductor' });
  const ctx: ConductorContext = {
    db,
    bus,
    placement: createPlacement(db, {
      claimPauseMs: opts.claimPauseMs ?? (Number(process.env.NUBO_TEST_CLAIM_PAUSE_MS) || 0),
      onClaimPause: (consumer, provider) => log.warn({ consumer, provider }, 'test knob: pausing inside the claim transaction'),
    }),
    options: { ...schedulerOptions(config), ...opts.scheduler },
    policy: inventoryPolicy(config),
    log,
    host: hostname(),
    owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    buildTimeoutMs: opts.buildTimeoutMs ?? config['scheduler.build_timeout'] * 1000,
    allowResizeToSameHost: opts.allowResizeToSameHost ?? config['compute.allow_resize_to_same_host'],
    moveTimeoutMs: opts.moveTimeoutMs ?? config['scheduler.move_timeout'] * 1000,
    now: opts.now ?? (() => new Date()),
    select: opts.select,
    imageEndpoint: recentImageEndpoint(db),
    imageToken: opts.tokens ? instanceUserToken(db, opts.tokens, config['identity.token_expiration'], log) : undefined,
  };
  const sweepIntervalMs = opts.sweepIntervalMs ?? config['scheduler.sweep_interval'] * 1000;
  const subscriptions: Subscription[] = [];
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<unknown> | undefined;
  let stopped = false;

  /** Handlers still running: stop() waits for them before the database may close. */
  const running = new Set<Promise<unknown>>();
  const tracked = <H extends Record<string, (args: any) => unknown>>(handlers: H): H =>
    Object.fromEntries(
      Object.entries(handlers).map(([method, fn]) => [
        method,
        (args: unknown) => {
          const p = Promise.resolve().then(() => fn(args));
          const settled = p.catch(() => undefined);
          running.add(settled);
          void settled.finally(() => running.delete(settled));
          return p;
        },
      ]),
    ) as H;

  const scheduler: SchedulerServer = {
    build_instances: ({ instance_uuids, request_id }) => buildInstances(ctx, instance_uuids, request_id),
    resize_instance: (req) => resizeInstance(ctx, req),
  };

  const runSweep = () => {
    if (sweeping || stopped) return;
    sweeping = sweep(ctx)
      .catch((e) => log.error({ err: e }, 'sweep failed'))
      .finally(() => (sweeping = undefined));
  };

  return {
    context: ctx,
    async start() {
      subscriptions.push(await bus.serve(CONDUCTOR_TOPIC, tracked(conductorHandlers(ctx))));
      subscriptions.push(await bus.serve(SCHEDULER_TOPIC, tracked(scheduler)));
      if (sweepIntervalMs > 0) {
        timer = setInterval(runSweep, sweepIntervalMs);
        timer.unref();
      }
      log.info({ topics: [SCHEDULER_TOPIC, CONDUCTOR_TOPIC], owner: ctx.owner, sweep_interval_ms: sweepIntervalMs }, 'conductor started');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await Promise.all(subscriptions.splice(0).map((s) => s.close()));
      await Promise.all([sweeping, ...running]);
      log.info('conductor stopped');
    },
    sweep: () => sweep(ctx),
  };
}

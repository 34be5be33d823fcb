/**
 * Crash safety: what the conductor finds periodically and puts right, so that
 * a scheduler killed mid-claim, a lost message or a dead compute host leaves
 * nothing stuck. Each step is a small function over the database (store.ts)
 * returning how many instances or claims it handled.
 *
 * - unscheduled: building, waiting for a host for longer than
 *   scheduler.build_timeout with no live lease (the conductor died, or the
 *   API's build_instances was lost): scheduled again (or errored when out of
 *   attempts), after releasing whatever a dead conductor claimed.
 * - unstarted: placed on a host that has not started the build within
 *   build_timeout (build_and_run_instance was lost): taken back and
 *   rescheduled, counting the attempt.
 * - host down: building on a host whose service has been down for
 *   service_down_time: taken back and rescheduled, or errored.
 * - leaked claims: allocations of instances that are deleted, in error with
 *   no host, or claimed on a node that is not theirs: released.
 * - stuck moves: resizes and migrations that stopped half way (move-sweep.ts).
 * - unfinished moves: what moves in error or of deleted servers keep on
 *   their sources, asked to be dropped until it is (move-cleanup.ts).
 */
import type { ConductorContext } from './context.ts';
import { ago } from './context.ts';
import { placeLeased, reschedule } from './build.ts';
import { sweepUnfinishedMoves } from './move-cleanup.ts';
import { sweepStuckMoves } from './move-sweep.ts';
import { retryOf } from './messages.ts';
import * as store from './store.ts';

/** Rows each step looks at per run; the next run takes the rest. */
export const SWEEP_BATCH = 100;

/** Runs `fn` on each item, logging (not throwing) a failure; returns how many succeeded with true. */
async function each<T>(ctx: ConductorContext, what: string, items: T[], fn: (item: T) => Promise<boolean>): Promise<number> {
  let done = 0;
  for (const item of items) {
    try {
      if (await fn(item)) done++;
    } catch (e) {
      ctx.log.error({ err: e, item, what }, 'sweep step failed');
    }
  }
  return done;
}

/** Builds nobody is scheduling any more: leased by this conductor and placed again. */
export async function sweepUnscheduled(ctx: ConductorContext, limit = SWEEP_BATCH): Promise<number> {
  const before = ago(ctx, ctx.buildTimeoutMs);
  const rows = await store.unscheduledBuilds(ctx.db, before, limit);
  return each(ctx, 'unscheduled', rows, async (r) => {
    const leased = await store.leaseForScheduling(ctx.db, [r.uuid], ctx.owner, ctx.now(), before);
    if (!leased.length) return false;
    ctx.log.warn({ uuid: r.uuid }, 'build waited too long for a host; scheduling it again');
    await placeLeased(ctx, leased, await store.createRequestId(ctx.db, r.uuid), 'The build was not scheduled in time.');
    return true;
  });
}

/** Takes a build back from the host it was placed on, releases its claims and reschedules it. */
async function takeBack(ctx: ConductorContext, r: store.SweepRow, reason: string): Promise<boolean> {
  const taken = await store.takeBuildFromHost(ctx.db, r, ctx.owner, ctx.now());
  if (!taken) return false;
  ctx.log.warn({ uuid: r.uuid, host: r.host, reason }, 'taking the build back from its host');
  // That host counts as tried, even if the row's retry state does not say so.
  const retry = retryOf(taken);
  if (r.host && !retry.hosts.some((h) => h.host === r.host)) {
    taken.request_spec = { ...taken.request_spec, retry: { num_attempts: Math.max(retry.num_attempts, 1), hosts: [...retry.hosts, { host: r.host, node: r.node ?? r.host }] } };
  }
  await ctx.placement.release(r.uuid);
  await reschedule(ctx, taken, await store.createRequestId(ctx.db, r.uuid), [], reason);
  return true;
}

/** Builds their host never started (still task_state scheduling) within build_timeout. */
export async function sweepUnstarted(ctx: ConductorContext, limit = SWEEP_BATCH): Promise<number> {
  const rows = await store.unstartedBuilds(ctx.db, ago(ctx, ctx.buildTimeoutMs), limit);
  return each(ctx, 'unstarted', rows, (r) => takeBack(ctx, r, `The compute host ${r.host} did not start the build in time.`));
}

/** Builds on hosts whose compute service is down. */
export async function sweepDownHosts(ctx: ConductorContext, limit = SWEEP_BATCH): Promise<number> {
  const rows = await store.buildsOnDownHosts(ctx.db, ago(ctx, ctx.options.serviceDownTimeMs), limit);
  return each(ctx, 'host down', rows, (r) => takeBack(ctx, r, `The compute host ${r.host} went down during the build.`));
}

/** Claims nothing should hold any more, each checked again right before it is released. */
export async function sweepLeakedAllocations(ctx: ConductorContext, limit = SWEEP_BATCH): Promise<number> {
  const leaked = await store.leakedAllocations(ctx.db, limit);
  return each(ctx, 'leaked allocation', leaked, async (a) => {
    if (!(await store.stillLeaked(ctx.db, a))) return false;
    ctx.log.warn({ consumer: a.consumer, provider: a.providerUuid }, 'releasing a leaked allocation');
    return ctx.placement.releaseOn(a.consumer, a.providerUuid);
  });
}

export interface SweepResult {
  unscheduled: number;
  unstarted: number;
  hostDown: number;
  leaked: number;
  moves: number;
  /** Moves ended or whose hosts were asked to drop what they kept (move-cleanup.ts). */
  cleanups: number;
}

/** One pass of every step. */
export async function sweep(ctx: ConductorContext): Promise<SweepResult> {
  const result: SweepResult = {
    unscheduled: await sweepUnscheduled(ctx),
    unstarted: await sweepUnstarted(ctx),
    hostDown: await sweepDownHosts(ctx),
    leaked: await sweepLeakedAllocations(ctx),
    moves: await sweepStuckMoves(ctx, SWEEP_BATCH),
    cleanups: await sweepUnfinishedMoves(ctx, SWEEP_BATCH),
  };
  if (Object.values(result).some((n) => n > 0)) ctx.log.info(result, 'sweep put things right');
  return result;
}

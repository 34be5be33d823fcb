/**
 * Building instances, the conductor's side (Nova's
 * ComputeTaskManager.schedule_and_build_instances and build_instances):
 * pick and claim a host, record it on the instance, cast
 * build_and_run_instance to that host's agent; reschedule a build that
 * failed there (an alternate host, else the scheduler again without the
 * hosts tried) up to scheduler.max_attempts; put the instance in error with
 * Nova's fault when no host is left.
 *
 * Only the holder of an instance's scheduling lease claims for it
 * (store.ts), so two conductors (or a redelivered message) never schedule
 * one instance twice; the lease lasts until the build is cast (which may
 * wait for the broker), so the sweep does not take a build back meanwhile;
 * a conductor that dies holding a lease leaves the instance to the sweep
 * (sweep.ts) once the lease has expired.
 */
import { computeClient, type HostNode } from '../../compute-driver/rpc.ts';
import { isNuboError } from '../../lib/errors.ts';
import { getNode } from '../compute-nodes/store.ts';
import { scheduleInstances } from '../schedule.ts';
import { NoValidHost, type Selection, type SelectOptions } from '../select.ts';
import { requestResources } from '../state.ts';
import { ago, type ConductorContext } from './context.ts';
import { asksForGroup, buildMessage, hostFiltersOf, imageMetaOf, requestSpecOf, retryOf } from './messages.ts';
import * as store from './store.ts';
import type { InstanceRow, RetryState } from './store.ts';

/** The event of the first scheduling, under the create action (Nova's name). */
export const SCHEDULE_EVENT = 'conductor_schedule_and_build_instances';
/** The event of a reschedule after a failed build. */
export const RESCHEDULE_EVENT = 'conductor_build_instances';

const stackOf = (e: unknown) => (e instanceof Error ? (e.stack ?? e.message) : String(e));
const sameHost = (a: HostNode, b: HostNode) => a.host === b.host && a.node === b.node;
const hostNode = (s: Selection): HostNode => ({ host: s.host, node: s.nodename });

/** Records the conductor's event of a build step on each instance (creating the create action if the API did not). */
async function event(ctx: ConductorContext, uuid: string, requestId: string, name: string, outcome?: { error?: unknown }): Promise<void> {
  const now = ctx.now();
  try {
    await store.upsertActionEvent(ctx.db, {
      uuid,
      requestId,
      action: 'create',
      event: name,
      host: ctx.host,
      start: now,
      ...(outcome ? { finish: now, result: outcome.error === undefined ? 'Success' : 'Error', traceback: outcome.error === undefined ? null : stackOf(outcome.error) } : {}),
    });
  } catch (e) {
    ctx.log.warn({ err: e, uuid, event: name }, 'could not record the instance action event');
  }
}

/** Releases the claim just made for an instance that turned out deleted meanwhile; leaves it when someone else now schedules the instance. */
async function releaseIfGone(ctx: ConductorContext, uuid: string): Promise<void> {
  const row = await store.getInstance(ctx.db, uuid);
  if (!row || row.deleted_at || row.vm_state === 'deleted') await ctx.placement.release(uuid);
  else ctx.log.warn({ uuid, host: row.host, vm_state: row.vm_state }, 'lost the scheduling lease of the instance; its claim is left to the sweep');
}

/**
 * Puts a leased build in error with Nova's fault (code 500, `message`) and
 * releases whatever it holds. No-op when the instance was deleted or taken
 * over meanwhile (its holder decides).
 */
export async function errorOut(ctx: ConductorContext, row: InstanceRow, requestId: string, message: string, cause: unknown, eventName: string): Promise<void> {
  const now = ctx.now();
  const fault: store.StoredFault = { code: 500, message: message.slice(0, 255), details: stackOf(cause), created: now.toISOString(), host: null };
  const changed = await store.failBuild(ctx.db, row.uuid, ctx.owner, fault, now);
  if (changed) await ctx.placement.release(row.uuid);
  else await releaseIfGone(ctx, row.uuid);
  ctx.log.warn({ uuid: row.uuid, request_id: requestId, reason: message }, changed ? 'build failed: instance set to error' : 'build failed on an instance no longer ours');
  await event(ctx, row.uuid, requestId, eventName, { error: cause });
}

/**
 * Records `placed[0]` (already claimed) as the instance's host and casts
 * build_and_run_instance there with the rest as alternates. Returns whether
 * the build was cast.
 */
async function commitAndCast(
  ctx: ConductorContext,
  row: InstanceRow,
  requestId: string,
  placed: HostNode[],
  previous: RetryState,
  eventName: string,
  imageEndpoint: Promise<string | null>,
): Promise<boolean> {
  const [chosen, ...alternates] = placed;
  const retry: RetryState = { num_attempts: previous.num_attempts + 1, hosts: [...previous.hosts, chosen] };
  const committed = await store.commitPlacement(ctx.db, row.uuid, ctx.owner, chosen, retry, ctx.now());
  if (!committed) {
    await releaseIfGone(ctx, row.uuid);
    await event(ctx, row.uuid, requestId, eventName, { error: new Error('The instance was deleted or taken over while it was scheduled.') });
    return false;
  }
  const image = imageMetaOf(committed, await imageEndpoint, await ctx.imageToken?.(committed));
  // Nova populates retry only when reschedules are possible.
  const msg = buildMessage(committed, requestId, { host: chosen, retry: ctx.options.maxAttempts > 1 ? retry : null, alternates }, image);
  try {
    // While the broker is away the cast waits, but not past the lease (3/4 of build_timeout): the sweep leaves the build alone until then.
    await computeClient(ctx.bus, chosen.host).cast('build_and_run_instance', msg, { timeoutMs: Math.max(1, Math.floor((ctx.buildTimeoutMs * 3) / 4)) });
  } catch (e) {
    // The row says the host has it: the sweep reschedules a build its host never started.
    ctx.log.error({ err: e, uuid: row.uuid, host: chosen.host }, 'could not cast build_and_run_instance; the sweep will retry the build');
    await event(ctx, row.uuid, requestId, eventName, { error: e });
    return false;
  }
  // The event's finish in the same statement (it used to be a statement of its own).
  await store.endCastLease(ctx.db, row.uuid, ctx.owner, chosen, ctx.now(), { requestId, event: eventName, host: ctx.host, at: ctx.now() });
  ctx.log.info({ uuid: row.uuid, request_id: requestId, host: chosen.host, node: chosen.node, attempt: retry.num_attempts }, 'build cast to its host');
  return true;
}

/** How many steps of a multi-create run at once (each holds a database connection while it runs). */
const AT_ONCE = 4;

/**
 * Runs `step` for every item, AT_ONCE at a time, and waits for them all;
 * throws the first failure once every step has ended.
 */
async function eachAtOnce<T>(items: readonly T[], step: (item: T, index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        await step(items[i], i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, items.length) }, worker));
  if (failure) throw failure.error;
}

/** How hosts are selected for the row's request: the conductor's options, with the request's own filters when it names hosts. */
function selectOptions(ctx: ConductorContext, row: InstanceRow): SelectOptions | undefined {
  const filters = hostFiltersOf(row);
  return filters ? { ...ctx.select, filters } : ctx.select;
}

/** The server group the instance is in, when its create asked for one. */
const groupOf = (ctx: ConductorContext, row: InstanceRow) => (asksForGroup(row) ? store.groupOf(ctx.db, row.uuid) : Promise.resolve(undefined));

/** Instances of one request (multi-create) are scheduled together; each request on its own. */
function byRequest(rows: InstanceRow[]): InstanceRow[][] {
  const groups = new Map<string, InstanceRow[]>();
  for (const r of rows) groups.set(r.reservation_id, [...(groups.get(r.reservation_id) ?? []), r]);
  return [...groups.values()];
}

/**
 * First placement of leased instances of one request, together (each placed
 * knowing where the previous ones went, as Nova's select_destinations): on
 * NoValidHost every one of them goes to error.
 */
async function scheduleTogether(ctx: ConductorContext, rows: InstanceRow[], requestId: string, startRecorded: boolean): Promise<void> {
  const uuids = rows.map((r) => r.uuid);
  await eachAtOnce(
    rows.filter((r) => !startRecorded || !store.startRecordedFor(r)),
    (r) => event(ctx, r.uuid, requestId, SCHEDULE_EVENT),
  );
  let selections: Selection[][];
  try {
    // Whatever a previous holder of the lease claimed and did not record is stale.
    await ctx.placement.release(uuids);
    const spec = requestSpecOf(rows[0], await groupOf(ctx, rows[0]), uuids);
    try {
      selections = await scheduleInstances(ctx.db, ctx.placement, spec, ctx.options, selectOptions(ctx, rows[0]));
    } catch (e) {
      if (!(e instanceof NoValidHost)) throw e;
      for (const row of rows) await errorOut(ctx, row, requestId, e.message, e, SCHEDULE_EVENT);
      return;
    }
    const endpoint = ctx.imageEndpoint();
    await eachAtOnce(rows, (row, i) => commitAndCast(ctx, row, requestId, selections[i].map(hostNode), retryOf(row), SCHEDULE_EVENT, endpoint));
  } catch (e) {
    // An unexpected failure (the database went away): the instances not yet placed may be tried again at once.
    await store.dropLease(ctx.db, uuids, ctx.owner).catch(() => undefined);
    throw e;
  }
}

/** Claims the instance's resources on the first of `alternates` that takes them; returns from it on, or null. */
async function claimAlternate(ctx: ConductorContext, row: InstanceRow, alternates: HostNode[], resources: ReturnType<typeof requestResources>): Promise<HostNode[] | null> {
  for (let i = 0; i < alternates.length; i++) {
    const node = await getNode(ctx.db, alternates[i].host, alternates[i].node);
    if (!node) continue;
    try {
      await ctx.placement.claim(row.uuid, node.uuid, resources);
      return alternates.slice(i);
    } catch (e) {
      if (isNuboError(e) && [400, 404, 409].includes(e.status)) continue;
      throw e;
    }
  }
  return null;
}

/**
 * Places a leased instance again after a build on some host did not happen:
 * an alternate the first scheduling picked, else the scheduler again without
 * the hosts already tried; error when max_attempts hosts were tried or none
 * is left (Nova's MaxRetriesExceeded).
 */
export async function reschedule(ctx: ConductorContext, row: InstanceRow, requestId: string, alternates: HostNode[], lastReason: string): Promise<void> {
  const retry = retryOf(row);
  const { uuid } = row;
  await event(ctx, uuid, requestId, RESCHEDULE_EVENT);
  if (retry.num_attempts >= ctx.options.maxAttempts) {
    const message = `Exceeded maximum number of retries. Exceeded max scheduling attempts ${ctx.options.maxAttempts} for instance ${uuid}. Last exception: ${lastReason}`;
    await errorOut(ctx, row, requestId, message, new NoValidHost(message), RESCHEDULE_EVENT);
    return;
  }
  try {
    await ctx.placement.release(uuid);
    const spec = requestSpecOf(row, await groupOf(ctx, row), [uuid], retry.hosts.map((h) => h.host));
    const untried = alternates.filter((a) => !retry.hosts.some((h) => sameHost(h, a)));
    let placed = await claimAlternate(ctx, row, untried, requestResources(spec));
    if (!placed) {
      try {
        placed = (await scheduleInstances(ctx.db, ctx.placement, spec, ctx.options, selectOptions(ctx, row)))[0].map(hostNode);
      } catch (e) {
        if (!(e instanceof NoValidHost)) throw e;
        const message = `Exhausted all hosts available for retrying build failures for instance ${uuid}.`;
        await errorOut(ctx, row, requestId, message, e, RESCHEDULE_EVENT);
        return;
      }
    }
    await commitAndCast(ctx, row, requestId, placed, retry, RESCHEDULE_EVENT, ctx.imageEndpoint());
  } catch (e) {
    await store.dropLease(ctx.db, [uuid], ctx.owner).catch(() => undefined);
    throw e;
  }
}

/**
 * Places leased instances: those never placed together per request, those
 * already tried somewhere one by one as reschedules.
 */
export async function placeLeased(ctx: ConductorContext, rows: InstanceRow[], requestId: string, reason: string, startRecorded = false): Promise<void> {
  const fresh = rows.filter((r) => retryOf(r).num_attempts === 0);
  for (const group of byRequest(fresh)) await scheduleTogether(ctx, group, requestId, startRecorded);
  for (const row of rows.filter((r) => retryOf(r).num_attempts > 0)) await reschedule(ctx, row, requestId, [], reason);
}

/**
 * build_instances (topic scheduler): schedule and build the instances the
 * API created (building, task_state scheduling, no host). Instances already
 * placed, deleted, or being scheduled by another conductor are skipped, so a
 * redelivered message does no harm.
 */
export async function buildInstances(ctx: ConductorContext, uuids: readonly string[], requestId: string): Promise<void> {
  // The lease's statement records the start of the first scheduling's event too.
  const started = { requestId, event: SCHEDULE_EVENT, host: ctx.host, at: ctx.now() };
  const rows = await store.leaseForScheduling(ctx.db, uuids, ctx.owner, ctx.now(), ago(ctx, ctx.buildTimeoutMs), started);
  if (rows.length < uuids.length) {
    const leased = new Set(rows.map((r) => r.uuid));
    ctx.log.info({ request_id: requestId, skipped: uuids.filter((u) => !leased.has(u)) }, 'instances not waiting for a host (placed, deleted or being scheduled) skipped');
  }
  if (rows.length) await placeLeased(ctx, rows, requestId, 'build requested', true);
}

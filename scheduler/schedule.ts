import type { Db } from '../lib/db/index.ts';
import { isNuboError } from '../lib/errors.ts';
import { loadHostStates } from './hosts.ts';
import type { Resources } from './placement/resources.ts';
import type { Placement } from './placement/service.ts';
import { claimDestinations, type Selection, type SelectOptions } from './select.ts';
import { requestResources, type RequestSpec, type SchedulerOptions } from './state.ts';

/**
 * The scheduler's decision for a build (Nova's select_destinations with
 * Placement): load the host states, then place each instance on the best
 * host on which its resources can be claimed. Returns, per instance, the
 * host claimed followed by alternates (unclaimed). On NoValidHost (or any
 * failure) the claims made are released before the error is thrown.
 * `claimWith` claims in place of placement.claim (a move's claimMove).
 */
export async function scheduleInstances(
  db: Db,
  placement: Placement,
  spec: RequestSpec & { instanceUuids: readonly string[] },
  options: SchedulerOptions,
  opts: SelectOptions = {},
  claimWith: (consumer: string, providerUuid: string, resources: Resources) => Promise<unknown> = placement.claim,
): Promise<Selection[][]> {
  const hints = spec.schedulerHints ?? {};
  const hosts = await loadHostStates(db, { instances: !!spec.group || hints.same_host !== undefined || hints.different_host !== undefined });
  const resources = requestResources(spec);
  const claimed: string[] = [];
  const claim = async (consumer: string, host: { providerUuid: string }) => {
    try {
      await claimWith(consumer, host.providerUuid, resources);
      claimed.push(consumer);
      return true;
    } catch (e) {
      // Full (another scheduler got there first), or gone since the host states were read.
      if (isNuboError(e) && (e.status === 409 || e.status === 404)) return false;
      throw e;
    }
  };
  try {
    return await claimDestinations(spec, hosts, spec.instanceUuids.length, options, claim, opts);
  } catch (e) {
    for (const consumer of claimed) await placement.release(consumer);
    throw e;
  }
}

import { filterHosts, defaultFilters, type HostFilter } from './filters/index.ts';
import { RESOURCE_CLASSES, type Resources } from './placement/resources.ts';
import { instanceUuid, prepareRequest, type PreparedRequest } from './request.ts';
import type { HostState, RequestSpec, SchedulerOptions } from './state.ts';
import { defaultWeighers, rankHosts, type HostWeigher } from './weighers/index.ts';

/** One place an instance may go. */
export interface Selection {
  host: string;
  nodename: string;
  providerUuid: string;
}

/** No host passes the filters (for all the instances asked). The message is Nova's. */
export class NoValidHost extends Error {
  constructor(reason = 'There are not enough hosts available.') {
    super(`No valid host was found. ${reason}`);
    this.name = 'NoValidHost';
  }
}

export interface SelectOptions {
  filters?: readonly HostFilter[];
  weighers?: readonly HostWeigher[];
  /** Now, ms since the epoch. */
  now?: number;
  /** Random number in [0, 1), for host_subset_size > 1. */
  random?: () => number;
}

const selection = (h: HostState): Selection => ({ host: h.host, nodename: h.nodename, providerUuid: h.providerUuid });

const plus = (used: Resources, add: Resources): Resources => {
  const out: Resources = { ...used };
  for (const rc of RESOURCE_CLASSES) if (add[rc]) out[rc] = (out[rc] ?? 0) + add[rc]!;
  return out;
};

/** The host state after the instance is placed on it (Nova's consume_from_request), as a new object. */
const consume = (h: HostState, req: PreparedRequest): HostState => ({
  ...h,
  used: plus(h.used, req.resources),
  instances: new Set(h.instances).add(req.instanceUuid),
});

/**
 * Filtered and weighed hosts, best first (only the `limit` best), except that
 * the first is picked at random among the host_subset_size best (Nova's
 * _get_sorted_hosts).
 */
function sortedHosts(hosts: readonly HostState[], req: PreparedRequest, o: Required<SelectOptions>, limit: number): HostState[] {
  const filtered = filterHosts(hosts, req, o.filters);
  if (filtered.length === 0) return [];
  const sorted = rankHosts(filtered, req, o.weighers, limit);
  const subset = Math.min(req.options.hostSubsetSize, sorted.length);
  const pick = subset > 1 ? Math.min(subset - 1, Math.floor(o.random() * subset)) : 0;
  if (pick > 0) sorted.unshift(...sorted.splice(pick, 1));
  return sorted;
}

/** One step of a placement: the hosts an instance may go to, best first. The driver answers with the index of the host taken, or −1 for none. */
interface Step {
  instanceUuid: string;
  candidates: HostState[];
}

/**
 * Places `count` instances one after another (Nova's _schedule): for each,
 * filter and weigh the hosts as they are with the previous instances placed
 * (their resources consumed, their server group hosts known), let the driver
 * take one of the candidates, then add max_attempts − 1 alternates.
 */
function* placements(
  spec: RequestSpec,
  hosts: readonly HostState[],
  count: number,
  options: SchedulerOptions,
  opts: SelectOptions,
  allCandidates: boolean,
): Generator<Step, Selection[][], number> {
  const o: Required<SelectOptions> = {
    filters: opts.filters ?? defaultFilters,
    weighers: opts.weighers ?? defaultWeighers,
    now: opts.now ?? Date.now(),
    random: opts.random ?? Math.random,
  };
  const numAlts = options.maxAttempts - 1;
  // A driver taking the first candidate needs no more than the subset to pick from and the alternates (past the hosts chosen).
  const limit = allCandidates ? Infinity : Math.max(options.hostSubsetSize, numAlts + count);
  const working = hosts.slice();
  const base = prepareRequest(spec, hosts, options, count, o.now);
  const groupHosts = new Set(base.groupHosts);
  const chosen: HostState[] = [];
  let req = base;
  let sorted: HostState[] = [];
  for (let i = 0; i < count; i++) {
    req = { ...base, instanceUuid: instanceUuid(spec, i), groupHosts };
    sorted = sortedHosts(working, req, o, limit);
    const at = sorted.length ? yield { instanceUuid: req.instanceUuid, candidates: sorted } : -1;
    if (at < 0) throw new NoValidHost();
    const placed = consume(sorted[at], req);
    working[working.indexOf(sorted[at])] = placed;
    chosen.push(placed);
    if (spec.group) groupHosts.add(placed.host);
  }
  if (numAlts <= 0) return chosen.map((h) => [selection(h)]);
  // With several instances placed, filter and weigh again to see the hosts as they are now.
  if (count > 1) sorted = sortedHosts(working, req, o, numAlts + count);
  const taken = new Set(chosen.map((h) => h.providerUuid));
  const alternates: Selection[] = [];
  for (const h of sorted) {
    if (alternates.length >= numAlts) break;
    if (!taken.has(h.providerUuid)) alternates.push(selection(h));
  }
  return chosen.map((h) => [selection(h), ...alternates]);
}

/**
 * Where to place `count` instances of `spec` among `hosts`: for each instance
 * its host followed by up to max_attempts − 1 alternates (for reschedules),
 * as Nova's select_destinations. Each instance's host is chosen with the
 * previous instances already placed. Alternates are other hosts that passed,
 * never one chosen for an instance of this request. `hosts` is not
 * modified. Throws NoValidHost when fewer than `count` instances can be
 * placed.
 */
export function selectDestinations(spec: RequestSpec, hosts: readonly HostState[], count: number, options: SchedulerOptions, opts: SelectOptions = {}): Selection[][] {
  const steps = placements(spec, hosts, count, options, opts, false);
  let step = steps.next();
  while (!step.done) step = steps.next(0);
  return step.value;
}

/**
 * selectDestinations, taking for each instance the first candidate host on
 * which `claim` succeeds (Nova claims in Placement host by host down the
 * weighed list): a host another scheduler filled meanwhile is passed over,
 * and the next instances are placed knowing which host each really got.
 * Throws NoValidHost when an instance can be claimed nowhere; the claims
 * already made are the caller's to release.
 */
export async function claimDestinations(
  spec: RequestSpec,
  hosts: readonly HostState[],
  count: number,
  options: SchedulerOptions,
  claim: (instanceUuid: string, host: HostState) => Promise<boolean>,
  opts: SelectOptions = {},
): Promise<Selection[][]> {
  const steps = placements(spec, hosts, count, options, opts, true);
  let step = steps.next();
  while (!step.done) {
    const { instanceUuid, candidates } = step.value;
    let at = -1;
    for (let i = 0; i < candidates.length && at < 0; i++) if (await claim(instanceUuid, candidates[i])) at = i;
    step = steps.next(at);
  }
  return step.value;
}

import type { PreparedRequest } from '../request.ts';
import type { HostState } from '../state.ts';
import { softAffinityWeigher, softAntiAffinityWeigher } from './affinity.ts';
import { cpuWeigher, ramWeigher } from './resources.ts';
import type { HostWeigher } from './types.ts';

export type { HostWeigher } from './types.ts';

export const defaultWeighers: readonly HostWeigher[] = [ramWeigher, cpuWeigher, softAffinityWeigher, softAntiAffinityWeigher];

export interface WeighedHost {
  host: HostState;
  weight: number;
}

/**
 * Each host's weight, as Nova's weight handler: each weigher's raw weights
 * are clamped to its minval/maxval, normalized to [0, 1] between those
 * bounds where set and the weights' own minimum and maximum otherwise (all
 * equal → all 0), multiplied by its multiplier, and summed.
 */
function weights(hosts: readonly HostState[], req: PreparedRequest, weighers: readonly HostWeigher[]): Float64Array {
  const n = hosts.length;
  const total = new Float64Array(n);
  if (n <= 1) return total;
  const raw = new Float64Array(n);
  for (const w of weighers) {
    const multiplier = w.multiplier(req.options);
    if (multiplier === 0) continue;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      let x = w.weigh(hosts[i], req);
      if (w.minval !== undefined && x < w.minval) x = w.minval;
      if (w.maxval !== undefined && x > w.maxval) x = w.maxval;
      raw[i] = x;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    lo = w.minval ?? lo;
    hi = w.maxval ?? hi;
    if (lo === hi) continue;
    const scale = multiplier / (hi - lo);
    for (let i = 0; i < n; i++) total[i] += (raw[i] - lo) * scale;
  }
  return total;
}

/** The hosts with their weights, heaviest first (ties keep the hosts' order). */
export function weighHosts(hosts: readonly HostState[], req: PreparedRequest, weighers: readonly HostWeigher[] = defaultWeighers): WeighedHost[] {
  const total = weights(hosts, req, weighers);
  return hosts.map((host, i) => ({ host, weight: total[i] })).sort((a, b) => b.weight - a.weight);
}

/**
 * The hosts heaviest first (ties keep the hosts' order): weighHosts without
 * the weights, and only the `limit` heaviest when a limit is given (a
 * partial selection, much cheaper than sorting all when few are wanted).
 */
export function rankHosts(hosts: readonly HostState[], req: PreparedRequest, weighers: readonly HostWeigher[] = defaultWeighers, limit = Infinity): HostState[] {
  const total = weights(hosts, req, weighers);
  const n = hosts.length;
  if (limit >= n) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => total[b] - total[a]);
    return order.map((i) => hosts[i]);
  }
  // Insertion into a short sorted list; a tie never displaces an earlier host.
  const top: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = total[i];
    if (top.length === limit && !(w > total[top[limit - 1]])) continue;
    let at = top.length < limit ? top.length : limit - 1;
    while (at > 0 && w > total[top[at - 1]]) at--;
    if (top.length === limit) top.pop();
    top.splice(at, 0, i);
  }
  return top.map((i) => hosts[i]);
}

import type { PreparedRequest } from '../request.ts';
import type { HostState, SchedulerOptions } from '../state.ts';

/** A host weigher (Nova's BaseHostWeigher): higher weights win. */
export interface HostWeigher {
  name: string;
  /** Raw weights are clamped to [minval, maxval] and those bounds, when set, replace the list's own in normalization. */
  minval?: number;
  maxval?: number;
  multiplier(options: SchedulerOptions): number;
  weigh(host: HostState, req: PreparedRequest): number;
}

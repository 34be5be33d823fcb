import type { PreparedRequest } from '../request.ts';
import type { HostState } from '../state.ts';

/** A host filter: a pure predicate over one host and the request (Nova's BaseHostFilter.host_passes). */
export interface HostFilter {
  name: string;
  passes(host: HostState, req: PreparedRequest): boolean;
}

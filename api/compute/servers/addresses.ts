import type { InstanceRow } from './store.ts';

/** One address of a server on a network, as Nova lists it. */
export interface ServerAddress {
  version: 4 | 6;
  addr: string;
}

/**
 * A server's addresses by network label (the `addresses` of the server view
 * and of /servers/{id}/ips). There is no network service yet, so a server has
 * no ports and so no addresses.
 */
export function addressesOf(_row: InstanceRow): Record<string, ServerAddress[]> {
  return {};
}

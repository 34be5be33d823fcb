import { expectingToFind } from '../auth/errors.ts';
import type { EndpointRow } from '../catalog/endpoint-store.ts';

/** The endpoint attributes an endpoint group may filter on. */
export const FILTER_KEYS = ['service_id', 'region_id', 'interface'] as const;
type FilterKey = (typeof FILTER_KEYS)[number];

/** An endpoint group's filters: each named attribute must equal its value. */
export type EndpointFilters = Partial<Record<FilterKey, unknown>>;

const isFilterKey = (key: string): key is FilterKey => (FILTER_KEYS as readonly string[]).includes(key);

/** Keystone's check: every key is one of FILTER_KEYS (400 otherwise). */
export function assertValidFilters(filters: Record<string, unknown>): asserts filters is EndpointFilters {
  for (const key of Object.keys(filters)) {
    if (!isFilterKey(key)) throw expectingToFind(FILTER_KEYS.join(' or '), 'endpoint_group');
  }
}

/** Whether the endpoint has every attribute the filters name, with the same value. */
export function matchesFilters(endpoint: EndpointRow, filters: EndpointFilters): boolean {
  return FILTER_KEYS.every((key) => !(key in filters) || endpoint[key] === filters[key]);
}

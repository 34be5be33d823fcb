import { badRequest } from '../../../lib/errors.ts';
import { NAMESPACE_SORT_EXPR, TAG_SORT_KEYS } from './store.ts';

/** Glance's limit_param_default and api_limit_max. */
const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 1000;

const last = (params: Record<string, string[]>, key: string) => params[key]?.at(-1);

function limitOf(raw: string): number {
  if (!/^\s*-?\d+\s*$/.test(raw)) throw badRequest('limit param must be an integer');
  const limit = Number(raw);
  if (limit < 0) throw badRequest('limit param must be positive');
  return limit;
}

/** sort_key (created_at by default) among `keys`, and sort_dir (desc by default). */
function sortOf(params: Record<string, string[]>, keys: string[]): { sortKey: string; sortDir: 'asc' | 'desc' } {
  const sortKey = last(params, 'sort_key') ?? 'created_at';
  if (!keys.includes(sortKey)) throw badRequest(`Invalid sort key: ${sortKey}. It must be one of the following: ${keys.join(', ')}.`);
  const sortDir = last(params, 'sort_dir') ?? 'desc';
  if (sortDir !== 'asc' && sortDir !== 'desc') throw badRequest(`Invalid sort direction: ${sortDir}`);
  return { sortKey, sortDir };
}

export interface NamespaceListParams {
  limit: number;
  marker?: string;
  sortKey: string;
  sortDir: 'asc' | 'desc';
  visibility?: string;
  resourceTypes?: string[];
}

/** GET /v2/metadefs/namespaces's query, checked as Glance does (a bad value is a 400). */
export function parseNamespaceListQuery(params: Record<string, string[]>): NamespaceListParams {
  const rawLimit = last(params, 'limit');
  const visibility = last(params, 'visibility') || undefined;
  if (visibility !== undefined && visibility !== 'public' && visibility !== 'private') {
    throw badRequest(`Invalid visibility value: ${visibility}`);
  }
  const resourceTypes = last(params, 'resource_types');
  return {
    limit: Math.min(rawLimit === undefined ? DEFAULT_LIMIT : limitOf(rawLimit), MAX_LIMIT),
    marker: last(params, 'marker'),
    ...sortOf(params, Object.keys(NAMESPACE_SORT_EXPR)),
    visibility,
    resourceTypes: resourceTypes === undefined ? undefined : resourceTypes.split(',').map((s) => s.trim()),
  };
}

/** A tag list's query: no limit unless one is given, as Glance. */
export function parseTagListQuery(params: Record<string, string[]>): { limit?: number; marker?: string; sortKey: string; sortDir: 'asc' | 'desc' } {
  const rawLimit = last(params, 'limit');
  return {
    limit: rawLimit ? limitOf(rawLimit) : undefined,
    marker: last(params, 'marker') || undefined,
    ...sortOf(params, TAG_SORT_KEYS),
  };
}

import type { FastifyRequest } from 'fastify';
import { badRequest } from '../../lib/errors.ts';
import { baseUrlOf } from '../identity/version/routes.ts';

export type Query = Record<string, string | string[] | undefined>;

export const queryOf = (request: FastifyRequest) => (request.query ?? {}) as Query;

/** A query parameter's value; the last one when it is repeated (webob's MultiDict). */
export function lastValue(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** From 2.75 Nova refuses query parameters it does not know (400); before, it ignores them. */
export function rejectUnknownQuery(request: FastifyRequest, allowed: readonly string[]): void {
  if (!request.microversion.atLeast('2.75')) return;
  const unknown = Object.keys(queryOf(request)).filter((k) => !allowed.includes(k));
  if (unknown.length) {
    throw badRequest(`Invalid input for query parameters ${unknown[0]}. Additional properties are not allowed ('${unknown.join("', '")}' ${unknown.length > 1 ? 'were' : 'was'} unexpected)`);
  }
}

/** oslo.utils strutils.bool_from_string(strict=True); undefined for anything else. */
export function parseBool(value: string | boolean): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const v = value.trim().toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(v)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(v)) return false;
  return undefined;
}

/** Nova's utils.validate_integer: an integer (or its decimal text) within [min, max], else a 400 naming it. */
export function validateInteger(value: unknown, name: string, min?: number, max?: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n)) throw badRequest(`Invalid input received: ${name} must be an integer.`);
  if (min !== undefined && n < min) throw badRequest(`Invalid input received: ${name} must be >= ${min}.`);
  if (max !== undefined && n > max) throw badRequest(`Invalid input received: ${name} must be <= ${max}.`);
  return n;
}

export interface Page {
  /** Items to return at most: `limit` capped at compute.max_limit. */
  limit: number;
  marker?: string;
}

/** Nova's common.get_limit_and_marker: limit ≥ 0, at most max_limit (the default). */
export function pageOf(request: FastifyRequest, maxLimit: number): Page {
  const q = queryOf(request);
  const rawLimit = lastValue(q, 'limit');
  const limit = rawLimit === undefined ? maxLimit : Math.min(maxLimit, validateInteger(rawLimit, 'limit', 0));
  return { limit, marker: lastValue(q, 'marker') };
}

/** The compute API's address as the client used it, with the version path: http://h:8774/v2.1 */
export const apiBase = (request: FastifyRequest) => `${baseUrlOf(request)}/v2.1`;

/** Nova's self and bookmark links of a resource in `collection` (e.g. 'flavors'). */
export function resourceLinks(request: FastifyRequest, collection: string, id: string) {
  return [
    { rel: 'self', href: `${apiBase(request)}/${collection}/${id}` },
    { rel: 'bookmark', href: `${baseUrlOf(request)}/${collection}/${id}` },
  ];
}

/**
 * Nova's `<collection>_links`: a `next` link (the request's parameters,
 * sorted, with the last item as marker) when the page is full, i.e. holds
 * min(limit, max_limit) items; none otherwise.
 */
export function collectionLinks(request: FastifyRequest, collection: string, count: number, lastId: string | undefined, maxLimit: number) {
  const q = queryOf(request);
  const rawLimit = lastValue(q, 'limit');
  const maxItems = Math.min(rawLimit === undefined ? maxLimit : Number(rawLimit), maxLimit);
  if (!maxItems || maxItems !== count || lastId === undefined) return [];
  const params: [string, string][] = Object.keys(q)
    .filter((k) => k !== 'marker')
    .map((k) => [k, lastValue(q, k)!]);
  params.push(['marker', lastId]);
  params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [{ rel: 'next', href: `${apiBase(request)}/${collection}?${new URLSearchParams(params).toString()}` }];
}

import { badRequest } from '../../../lib/errors.ts';

export const SORT_KEYS = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDir = 'asc' | 'desc';

/** A comparison on a timestamp or number: Glance's `gt:`, `gte:`, `lt:`, `lte:`, `eq:`, `neq:` prefixes. */
export interface Comparison {
  op: '>' | '>=' | '<' | '<=' | '=' | '<>';
  value: string;
}

/** A list request, parsed and checked. */
export interface ImageListQuery {
  limit: number;
  marker?: string;
  sort: [SortKey, SortDir][];
  memberStatus: 'pending' | 'accepted' | 'rejected' | 'all';
  visibility?: 'public' | 'private' | 'shared' | 'community' | 'all';
  osHidden: boolean;
  tags: string[];
  /** Columns matched exactly or with `in:a,b`. */
  equals: Partial<Record<StringColumn, string[]>>;
  /** Numeric columns matched exactly. */
  numbers: Partial<Record<NumberColumn, number>>;
  protected?: boolean;
  sizeMin?: number;
  sizeMax?: number;
  createdAt?: Comparison;
  updatedAt?: Comparison;
  /** Extra properties that must have these values. */
  properties: Record<string, string>;
}

const STRING_COLUMNS = ['name', 'id', 'status', 'owner', 'container_format', 'disk_format', 'checksum', 'os_hash_value'] as const;
const NUMBER_COLUMNS = ['size', 'virtual_size', 'min_ram', 'min_disk'] as const;
type StringColumn = (typeof STRING_COLUMNS)[number];
type NumberColumn = (typeof NUMBER_COLUMNS)[number];

export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 1000;

const OPS: Record<string, Comparison['op']> = { gt: '>', gte: '>=', lt: '<', lte: '<=', eq: '=', neq: '<>' };

function comparison(name: string, raw: string): Comparison {
  const m = /^(gt|gte|lt|lte|eq|neq):(.+)$/.exec(raw);
  const [op, value] = m ? [OPS[m[1]], m[2]] : ['=' as const, raw];
  if (Number.isNaN(Date.parse(value))) throw badRequest(`Invalid ${name} value: ${raw}`);
  return { op, value };
}

/** `in:"a,b",c` → values; a quoted value may hold commas. Anything else is one value. */
function inValues(raw: string): string[] {
  if (!raw.startsWith('in:')) return [raw];
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|([^,]+)/g;
  for (const m of raw.slice(3).matchAll(re)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]);
  return out;
}

function bool(name: string, raw: string): boolean {
  const v = raw.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw badRequest(`Invalid value for ${name}: ${raw}; it must be a boolean`);
}

function integer(name: string, raw: string): number {
  if (!/^\d+$/.test(raw)) throw badRequest(`${name} param must be an integer`);
  return Number(raw);
}

function sortOf(params: Record<string, string[]>): [SortKey, SortDir][] {
  const key = (k: string) => {
    if (!(SORT_KEYS as readonly string[]).includes(k)) {
      throw badRequest(`Invalid sort key: ${k}. It must be one of the following: ${SORT_KEYS.join(', ')}.`);
    }
    return k as SortKey;
  };
  const dir = (d: string) => {
    if (d !== 'asc' && d !== 'desc') throw badRequest(`Invalid sort direction: ${d}`);
    return d;
  };
  if (params.sort) {
    if (params.sort_key || params.sort_dir) throw badRequest('Old and new sorting syntax cannot be combined');
    return params.sort[0].split(',').map((part) => {
      const [k, d = 'desc'] = part.split(':');
      return [key(k.trim()), dir(d.trim())];
    });
  }
  const keys = (params.sort_key ?? []).map((k) => key(k.trim()));
  const dirs = (params.sort_dir ?? []).map((d) => dir(d.trim()));
  if (dirs.length > 1 && dirs.length !== keys.length) throw badRequest('Number of sort dirs does not match the number of sort keys');
  if (!keys.length) keys.push('created_at');
  return keys.map((k, i) => [k, dirs[i] ?? dirs[0] ?? 'desc']);
}

const NOT_PROPERTIES = new Set<string>([
  'limit', 'marker', 'sort', 'sort_key', 'sort_dir', 'member_status', 'visibility', 'os_hidden', 'tag',
  'protected', 'size_min', 'size_max', 'created_at', 'updated_at', ...STRING_COLUMNS, ...NUMBER_COLUMNS,
]);

/** Parses GET /v2/images's query (each parameter may repeat) as Glance does; a bad value is a 400. */
export function parseImageListQuery(params: Record<string, string[]>): ImageListQuery {
  const one = (k: string) => params[k]?.[params[k].length - 1];
  if (one('changes-since') !== undefined) throw badRequest('The "changes-since" filter is no longer available on v2.');
  const limitRaw = one('limit');
  let limit = DEFAULT_LIMIT;
  if (limitRaw !== undefined) {
    if (!/^-?\d+$/.test(limitRaw)) throw badRequest('limit param must be an integer');
    limit = Number(limitRaw);
    if (limit < 0) throw badRequest('limit param must be positive');
  }
  const memberStatus = one('member_status') ?? 'accepted';
  if (!['pending', 'accepted', 'rejected', 'all'].includes(memberStatus)) throw badRequest(`Invalid status: ${memberStatus}`);
  const visibility = one('visibility');
  if (visibility !== undefined && !['community', 'public', 'private', 'shared', 'all'].includes(visibility)) {
    throw badRequest(`Invalid visibility value: ${visibility}`);
  }
  const equals: ImageListQuery['equals'] = {};
  for (const k of STRING_COLUMNS) {
    const v = one(k);
    if (v !== undefined) equals[k] = inValues(v);
  }
  const numbers: ImageListQuery['numbers'] = {};
  for (const k of NUMBER_COLUMNS) {
    const v = one(k);
    if (v !== undefined) numbers[k] = integer(k, v);
  }
  const properties: Record<string, string> = {};
  for (const [k, vs] of Object.entries(params)) if (!NOT_PROPERTIES.has(k)) properties[k] = vs[vs.length - 1];
  const osHidden = one('os_hidden');
  const prot = one('protected');
  const sizeMin = one('size_min');
  const sizeMax = one('size_max');
  const createdAt = one('created_at');
  const updatedAt = one('updated_at');
  return {
    limit: Math.min(limit, MAX_LIMIT),
    marker: one('marker'),
    sort: sortOf(params),
    memberStatus: memberStatus as ImageListQuery['memberStatus'],
    visibility: visibility as ImageListQuery['visibility'],
    osHidden: osHidden === undefined ? false : bool('os_hidden', osHidden),
    tags: (params.tag ?? []).map((t) => t.trim()),
    equals,
    numbers,
    protected: prot === undefined ? undefined : bool('protected', prot),
    sizeMin: sizeMin === undefined ? undefined : integer('size_min', sizeMin),
    sizeMax: sizeMax === undefined ? undefined : integer('size_max', sizeMax),
    createdAt: createdAt === undefined ? undefined : comparison('created_at', createdAt),
    updatedAt: updatedAt === undefined ? undefined : comparison('updated_at', updatedAt),
    properties,
  };
}

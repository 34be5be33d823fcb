import { badRequest, forbidden } from '../../../lib/errors.ts';

/** What Glance calls the base properties: columns, not extra properties. */
export const BASE_PROPERTIES = new Set([
  'checksum', 'created_at', 'container_format', 'disk_format', 'id', 'min_disk', 'min_ram', 'name',
  'size', 'virtual_size', 'status', 'tags', 'owner', 'updated_at', 'visibility', 'protected', 'os_hidden',
  'os_hash_algo', 'os_hash_value',
]);
/** Refused on create as read-only (Glance's disallowed properties). */
const DISALLOWED_ON_CREATE = ['direct_url', 'self', 'file', 'schema', 'stores'];
/** Refused in a patch as read-only. */
export const READ_ONLY = new Set([
  'created_at', 'updated_at', 'status', 'checksum', 'size', 'virtual_size', 'direct_url', 'self', 'file', 'schema', 'id',
  'os_hash_algo', 'os_hash_value', 'stores',
]);
const RESERVED = new Set(['location', 'deleted', 'deleted_at']);
/** Properties under this prefix are Glance's own. */
const RESERVED_PREFIX = 'os_glance';

export const readOnly = (key: string) => forbidden(`Attribute '${key}' is read-only.`);
export const reserved = (key: string) => forbidden(`Attribute '${key}' is reserved.`);

export function assertNotReserved(key: string): void {
  if (RESERVED.has(key) || key.startsWith(RESERVED_PREFIX)) throw reserved(key);
}

/** Glance's checks on a create body before schema validation: read-only keys are a 403. */
export function assertCreatable(body: Record<string, unknown>): void {
  for (const key of DISALLOWED_ON_CREATE) if (key in body) throw readOnly(key);
  for (const key of READ_ONLY) if (key !== 'id' && key in body) throw readOnly(key);
}

/** And after it: long or reserved extra property names. */
export function assertExtraPropertyNames(extra: Record<string, unknown>): void {
  for (const key of Object.keys(extra)) {
    if (key.length > 255) throw badRequest('Custom property should not be greater than 255 characters.');
    assertNotReserved(key);
  }
}

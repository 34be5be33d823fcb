import type { ImageRow } from './store.ts';
import { seconds as isoTime } from '../../http/times.ts';

const num = (v: string | number | null) => (v === null ? null : Number(v));
/** Glance's timestamps: ISO 8601 in UTC to the second, with a Z. */
export { isoTime };

/**
 * An image as Glance shows it: extra properties flattened beside the core
 * ones, nulls shown, links to itself, its data and its schema.
 */
export function imageView(image: ImageRow): Record<string, unknown> {
  return {
    ...image.properties,
    name: image.name,
    disk_format: image.disk_format,
    container_format: image.container_format,
    visibility: image.visibility,
    size: num(image.size),
    virtual_size: num(image.virtual_size),
    status: image.status,
    checksum: image.checksum,
    protected: image.protected,
    min_ram: image.min_ram,
    min_disk: image.min_disk,
    owner: image.owner,
    os_hidden: image.os_hidden,
    os_hash_algo: image.os_hash_algo,
    os_hash_value: image.os_hash_value,
    id: image.id,
    created_at: isoTime(image.created_at),
    updated_at: isoTime(image.updated_at),
    tags: image.tags,
    self: `/v2/images/${image.id}`,
    file: `/v2/images/${image.id}/file`,
    schema: '/v2/schemas/image',
    ...(image.location ? { stores: 'file' } : {}),
  };
}

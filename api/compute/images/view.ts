import type { FastifyRequest } from 'fastify';
import type { ImageRow } from '../../image/images/store.ts';
import { seconds } from '../../http/times.ts';
import { parseBool, resourceLinks } from '../query.ts';

/** Nova's image view maps: Glance status → Nova status and progress. */
const STATUS: Record<string, string> = { active: 'ACTIVE', queued: 'SAVING', saving: 'SAVING', deleted: 'DELETED', pending_delete: 'DELETED', killed: 'ERROR' };
const PROGRESS: Record<string, number> = { queued: 25, saving: 50, active: 100 };

/** self and bookmark links, and the alternate one to the image in Glance. */
function links(request: FastifyRequest, image: ImageRow, glanceImages: string) {
  return [...resourceLinks(request, 'images', image.id), { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${glanceImages}/${image.id}` }];
}

/** An image in the list (GET /images): id, name and links. */
export const briefImageView = (request: FastifyRequest, image: ImageRow, glanceImages: string) => ({ id: image.id, name: image.name, links: links(request, image, glanceImages) });

/** An image as Nova's images proxy shows it (GET /images/detail, /images/{id}). */
export function imageView(request: FastifyRequest, image: ImageRow, glanceImages: string): Record<string, unknown> {
  const metadata = image.properties ?? {};
  const view: Record<string, unknown> = {
    id: image.id,
    name: image.name,
    minRam: image.min_ram ?? 0,
    minDisk: image.min_disk ?? 0,
    metadata,
    created: seconds(image.created_at),
    updated: seconds(image.updated_at),
    status: STATUS[image.status] ?? 'UNKNOWN',
    progress: PROGRESS[image.status] ?? 0,
    'OS-EXT-IMG-SIZE:size': image.size === null ? null : Number(image.size),
    links: links(request, image, glanceImages),
  };
  const server = metadata.instance_uuid;
  if (server !== undefined) view.server = { id: server, links: resourceLinks(request, 'servers', server) };
  if (metadata.auto_disk_config !== undefined) view['OS-DCF:diskConfig'] = parseBool(metadata.auto_disk_config) ? 'AUTO' : 'MANUAL';
  return view;
}

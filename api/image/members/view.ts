import type { components } from '../../../spec/image.d.ts';
import { isoTime } from '../images/view.ts';
import type { ImageMemberRow } from './store.ts';

export type ImageMember = Required<components['schemas']['ImageMember']>;

/** A membership as Glance shows it, with its schema's address. */
export function memberView(m: ImageMemberRow): ImageMember {
  return {
    created_at: isoTime(m.created_at),
    image_id: m.image_id,
    member_id: m.member_id,
    schema: '/v2/schemas/member',
    status: m.status as ImageMember['status'],
    updated_at: isoTime(m.updated_at),
  };
}

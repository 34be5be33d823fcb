import type { FastifyRequest } from 'fastify';
import { notFound } from '../../../lib/errors.ts';
import { authenticate, type AuthContext } from '../../http/auth.ts';
import type { ImageContext } from '../context.ts';
import { getMember } from '../members/store.ts';
import { getImage, type ImageRow } from './store.ts';

/** Who is asking, as image rules see it. */
export interface ImageCaller {
  auth: AuthContext;
  projectId: string | null;
  isAdmin: boolean;
}

export function callerOf(request: FastifyRequest, ctx: ImageContext): ImageCaller {
  const auth = authenticate(request, ctx.tokens);
  return {
    auth,
    projectId: auth.credentials.project_id ?? null,
    isAdmin: ctx.policy.allows('context_is_admin', {}, auth.credentials),
  };
}

/** Image ids are UUIDs; anything else names no image (and must not reach a uuid column). */
export const isUuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);

export const imageNotFound = (id: string) => notFound(`No image found with ID ${id}`);

/** The policy target of an image: Glance's `project_id`/`owner`, `visibility`, and `member_id` when the caller is a member. */
export function imageTarget(image: ImageRow, memberId?: string): Record<string, unknown> {
  return {
    project_id: image.owner,
    owner: image.owner,
    visibility: image.visibility,
    ...(memberId ? { member_id: memberId } : {}),
  };
}

/** Enforces `action` on `image` for the caller (403 when denied). */
export function authorizeImage(ctx: ImageContext, caller: ImageCaller, action: string, image: ImageRow, memberId?: string): void {
  ctx.policy.authorize(action, imageTarget(image, memberId), caller.auth.credentials);
}

export interface VisibleImage {
  image: ImageRow;
  /** The caller's project, when it is a member of the image. */
  memberId?: string;
}

/**
 * The image `id` if the caller can see it: an admin sees every image; others
 * their project's, public and community ones, and shared ones their project
 * is a member of (whatever the member status). Anything else — including a
 * deleted image — is a 404, never a 403, so ids of others' images leak nothing.
 */
export async function findVisibleImage(ctx: ImageContext, caller: ImageCaller, id: string): Promise<VisibleImage> {
  const image = isUuid(id) ? await getImage(ctx.db, id) : undefined;
  if (!image || image.deleted_at) throw imageNotFound(id);
  const member = caller.projectId ? await getMember(ctx.db, image.id, caller.projectId) : undefined;
  const memberId = member ? member.member_id : undefined;
  if (caller.isAdmin) return { image, memberId };
  const visible =
    (caller.projectId !== null && image.owner === caller.projectId) ||
    image.visibility === 'public' ||
    image.visibility === 'community' ||
    (image.visibility === 'shared' && memberId !== undefined);
  if (!visible) throw imageNotFound(id);
  return { image, memberId };
}

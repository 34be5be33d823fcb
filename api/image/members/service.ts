import { isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { conflict, forbidden, isNuboError, notFound, payloadTooLarge } from '../../../lib/errors.ts';
import type { ImageContext } from '../context.ts';
import { authorizeImage, type ImageCaller, type VisibleImage } from '../images/access.ts';
import { lockImage } from '../images/store.ts';
import * as store from './store.ts';
import type { ImageMemberRow } from './store.ts';

export const MEMBER_STATUSES = ['pending', 'accepted', 'rejected'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

const onlyShared = () => forbidden('Only shared images have members.');
const memberNotFound = (imageId: string, memberId: string) => notFound(`${memberId} not found in the member list of the image ${imageId}.`);

/** Only shared images have members: anything else is a 403 (Glance's visibility check). */
function assertShared(image: { visibility: string }): void {
  if (image.visibility !== 'shared') throw onlyShared();
}

/** Glance's member rules check get_image on the image first, then the member rule itself. */
function authorizeMember(ctx: ImageContext, caller: ImageCaller, { image, memberId }: VisibleImage, action: string): void {
  authorizeImage(ctx, caller, 'get_image', image, memberId);
  authorizeImage(ctx, caller, action, image, memberId);
}

/**
 * Whose memberships the caller sees: admins and the image's owner see them
 * all (undefined); anyone else only its own project's, as Glance's member
 * queries are filtered.
 */
function memberScope(caller: ImageCaller, { image }: VisibleImage): string | undefined {
  if (caller.isAdmin || (caller.projectId !== null && caller.projectId === image.owner)) return undefined;
  return caller.projectId ?? '';
}

/**
 * The membership `memberId` of a shared image, if the caller may see it
 * (get_member, then a 404 for a membership it cannot see or that is not there).
 */
async function findMember(ctx: ImageContext, caller: ImageCaller, visible: VisibleImage, memberId: string): Promise<ImageMemberRow> {
  authorizeMember(ctx, caller, visible, 'get_member');
  const scope = memberScope(caller, visible);
  const member = scope === undefined || scope === memberId ? await store.getMember(ctx.db, visible.image.id, memberId) : undefined;
  if (!member) throw memberNotFound(visible.image.id, memberId);
  return member;
}

/**
 * Shares an image with a project (status pending). The image row is locked
 * while the quota is counted, so concurrent adds cannot exceed it.
 */
export async function addMember(ctx: ImageContext, caller: ImageCaller, visible: VisibleImage, memberId: string): Promise<ImageMemberRow> {
  const imageId = visible.image.id;
  assertShared(visible.image);
  authorizeMember(ctx, caller, visible, 'add_member');
  try {
    return await ctx.db.transaction(async (trx) => {
      const image = await lockImage(trx, imageId);
      if (!image || image.deleted_at) throw notFound(`No image found with ID ${imageId}`);
      assertShared(image);
      const quota = ctx.config['image.image_member_quota'];
      if (quota >= 0) {
        const attempted = (await store.countMembers(trx, imageId)) + 1;
        if (attempted > quota) {
          throw payloadTooLarge(
            `Image member limit exceeded for image ${imageId}: The limit has been exceeded on the number of allowed image members for this image. Attempted: ${attempted}, Maximum: ${quota}`,
          );
        }
      }
      return await store.insertMember(trx, imageId, memberId);
    });
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw conflict(`Member ${memberId} is duplicated for image ${imageId}`);
    throw e;
  }
}

/** The memberships the caller may see: all of them for the owner (and admins), its own for a member. */
export async function listMembers(ctx: ImageContext, caller: ImageCaller, visible: VisibleImage): Promise<ImageMemberRow[]> {
  assertShared(visible.image);
  authorizeMember(ctx, caller, visible, 'get_members');
  return store.listMembers(ctx.db, visible.image.id, memberScope(caller, visible));
}

/** One membership; whatever is refused is a 404 here, so nothing leaks (as Glance). */
export async function showMember(ctx: ImageContext, caller: ImageCaller, visible: VisibleImage, memberId: string): Promise<ImageMemberRow> {
  try {
    assertShared(visible.image);
    return await findMember(ctx, caller, visible, memberId);
  } catch (e) {
    if (isNuboError(e) && e.kind === 'Forbidden') throw notFound(e.message);
    throw e;
  }
}

/** A member accepts, rejects or reconsiders a share; the owner cannot (modify_member). */
export async function updateMember(
  ctx: ImageContext,
  caller: ImageCaller,
  visible: VisibleImage,
  memberId: string,
  status: MemberStatus,
): Promise<ImageMemberRow> {
  assertShared(visible.image);
  await findMember(ctx, caller, visible, memberId);
  authorizeMember(ctx, caller, visible, 'modify_member');
  const updated = await store.updateMemberStatus(ctx.db, visible.image.id, memberId, status);
  if (!updated) throw memberNotFound(visible.image.id, memberId);
  return updated;
}

/** The owner stops sharing the image with a project. */
export async function removeMember(ctx: ImageContext, caller: ImageCaller, visible: VisibleImage, memberId: string): Promise<void> {
  assertShared(visible.image);
  await findMember(ctx, caller, visible, memberId);
  authorizeMember(ctx, caller, visible, 'delete_member');
  if (!(await store.deleteMember(ctx.db, visible.image.id, memberId))) throw memberNotFound(visible.image.id, memberId);
}

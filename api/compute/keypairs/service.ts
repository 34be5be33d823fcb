import { isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { badRequest, conflict, notFound } from '../../../lib/errors.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { assertKeypairQuota, keypairQuota } from '../quotas/service.ts';
import { computeUsage } from '../quotas/usage.ts';
import type { Page } from '../query.ts';
import { fingerprintOf, generateKey, type KeypairType } from './keys.ts';
import * as store from './store.ts';
import type { KeypairRow } from './store.ts';

const keypairNotFound = (name: string, userId: string) => notFound(`Keypair ${name} not found for user ${userId}`);

/** Whose keypairs a call is about: the caller's, or (2.10 on, admins) the user_id it names. */
const ownerOf = (caller: ComputeCaller, userId?: string) => userId || caller.userId;

export interface KeypairInput {
  name: string;
  type?: KeypairType;
  public_key?: string;
  user_id?: string;
}

export interface CreatedKeypair {
  keypair: KeypairRow;
  /** Only for a generated key. */
  privateKey?: string;
}

/**
 * Imports a public key (fingerprinted; a key that does not parse is a 400)
 * or, without one, generates a key pair whose private half is returned once.
 * The user's key_pairs quota is checked first (403); a name the user already
 * has is a 409.
 */
export async function createKeypair(ctx: ComputeContext, caller: ComputeCaller, input: KeypairInput): Promise<CreatedKeypair> {
  const userId = ownerOf(caller, input.user_id);
  const name = input.name.trim();
  const type = input.type ?? 'ssh';
  authorizeCompute(ctx, caller, 'os_compute_api:os-keypairs:create', { user_id: userId });
  const limit = await keypairQuota(ctx, caller.projectId, userId);
  assertKeypairQuota(limit, (await computeUsage(ctx.db, caller.projectId ?? '', userId)).key_pairs);

  let publicKey: string;
  let fingerprint: string;
  let privateKey: string | undefined;
  if (input.public_key !== undefined) {
    publicKey = input.public_key;
    fingerprint = fingerprintOf(type, publicKey);
  } else {
    ({ publicKey, fingerprint, privateKey } = await generateKey(type, userId));
  }

  try {
    // Counted again under a per-user lock: concurrent creations cannot both slip under the quota.
    const keypair = await ctx.db.transaction(async (trx) => {
      await store.lockUserKeypairs(trx, userId);
      assertKeypairQuota(limit, await store.countKeypairs(trx, userId));
      return store.insertKeypair(trx, { user_id: userId, name, type, fingerprint, public_key: publicKey });
    });
    return { keypair, privateKey };
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw conflict(`Key pair '${name}' already exists.`);
    throw e;
  }
}

/** GET /os-keypairs/{name}: one of the user's keypairs; another user's name is simply not found. */
export async function showKeypair(ctx: ComputeContext, caller: ComputeCaller, name: string, userId?: string): Promise<KeypairRow> {
  const owner = ownerOf(caller, userId);
  authorizeCompute(ctx, caller, 'os_compute_api:os-keypairs:show', { user_id: owner });
  const keypair = await store.getKeypair(ctx.db, owner, name);
  if (!keypair) throw keypairNotFound(name, owner);
  return keypair;
}

/** GET /os-keypairs: the user's keypairs by name; from 2.35 a page after `marker` (a name; unknown is a 400). */
export async function listKeypairs(ctx: ComputeContext, caller: ComputeCaller, userId?: string, page?: Page): Promise<KeypairRow[]> {
  const owner = ownerOf(caller, userId);
  authorizeCompute(ctx, caller, 'os_compute_api:os-keypairs:index', { user_id: owner });
  if (page?.marker !== undefined && !(await store.getKeypair(ctx.db, owner, page.marker))) {
    throw badRequest(`Marker ${page.marker} could not be found.`);
  }
  return store.listKeypairs(ctx.db, owner, page?.limit, page?.marker);
}

/** DELETE /os-keypairs/{name} */
export async function deleteKeypair(ctx: ComputeContext, caller: ComputeCaller, name: string, userId?: string): Promise<void> {
  const owner = ownerOf(caller, userId);
  authorizeCompute(ctx, caller, 'os_compute_api:os-keypairs:delete', { user_id: owner });
  if (!(await store.deleteKeypair(ctx.db, owner, name))) throw keypairNotFound(name, owner);
}

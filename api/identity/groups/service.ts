import { isPostgresForeignKeyViolation, isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { badRequest, conflict, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import type { IdentityContext } from '../context.ts';
import * as domainStore from '../domains/store.ts';
import { userNotFound } from '../users/service.ts';
import * as userStore from '../users/store.ts';
import * as store from './store.ts';
import type { GroupFilter, GroupRow } from './store.ts';

type Deps = Pick<IdentityContext, 'db' | 'tokens'>;

/** What a client may set on a group: its own fields plus any extra attribute. */
export interface GroupInput {
  name?: string;
  domain_id?: string;
  description?: string | null;
  [extra: string]: unknown;
}

export const groupNotFound = (id: string) => notFound(`Could not find group: ${id}.`);
const duplicateName = (name: string, domainId: string) =>
  conflict(`Conflict occurred attempting to store group - Duplicate entry found with name ${name} at domain ID ${domainId}.`);
const notAMember = (userId: string, groupId: string) => notFound(`User '${userId}' not found in group '${groupId}'`);

function extraOf(input: GroupInput): Record<string, unknown> {
  const { name: _n, domain_id: _d, description: _ds, id: _i, ...extra } = input;
  return extra;
}

export async function findGroup(deps: Pick<Deps, 'db'>, id: string): Promise<GroupRow | undefined> {
  return store.getGroup(deps.db, id);
}

export async function listGroups(deps: Pick<Deps, 'db'>, filter: GroupFilter): Promise<GroupRow[]> {
  return store.listGroups(deps.db, filter);
}

/** A new group in `domainId`, which must exist (404 otherwise). */
export async function createGroup(deps: Deps, input: GroupInput & { name: string }, domainId: string): Promise<GroupRow> {
  if (!(await domainStore.getDomain(deps.db, domainId))) throw notFound(`Could not find domain: ${domainId}.`);
  const name = input.name.trim();
  if (await store.groupNameTaken(deps.db, name, domainId)) throw duplicateName(name, domainId);
  const row: GroupRow = { id: newId(), name, domain_id: domainId, description: input.description ?? '', extra: extraOf(input) };
  try {
    await store.insertGroup(deps.db, row);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicateName(name, domainId);
    throw e;
  }
  return row;
}

/** Renames or re-describes a group; its id and domain are fixed. */
export async function updateGroup(deps: Deps, group: GroupRow, input: GroupInput): Promise<GroupRow> {
  if (input.id !== undefined && input.id !== group.id) throw badRequest('Cannot change ID');
  if (input.domain_id !== undefined && input.domain_id !== group.domain_id) throw badRequest('Cannot change Domain ID');
  const next: GroupRow = { ...group, extra: { ...group.extra, ...extraOf(input) } };
  if (input.name !== undefined) next.name = input.name.trim();
  if ('description' in input) next.description = input.description ?? '';
  if (next.name !== group.name && (await store.groupNameTaken(deps.db, next.name, group.domain_id, group.id))) {
    throw duplicateName(next.name, group.domain_id);
  }
  try {
    await store.updateGroup(deps.db, next);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicateName(next.name, group.domain_id);
    throw e;
  }
  return next;
}

/**
 * Deletes a group with its memberships and grants. When it had grants, its
 * members' tokens are revoked (their roles may have come from it).
 */
export async function deleteGroup(deps: Deps, id: string): Promise<void> {
  const hadGrants = await store.hasGrants(deps.db, id);
  const members = hadGrants ? await store.memberIds(deps.db, id) : [];
  if (!(await store.deleteGroup(deps.db, id))) throw groupNotFound(id);
  const now = new Date();
  for (const userId of members) await deps.tokens.revoke({ user_id: userId, issued_before: now });
}

/** The group and the user of a membership call, each 404 when missing (the group first, as Keystone). */
async function membershipParties(deps: Pick<Deps, 'db'>, groupId: string, userId: string): Promise<void> {
  if (!(await store.getGroup(deps.db, groupId))) throw groupNotFound(groupId);
  if (!(await userStore.getUser(deps.db, userId))) throw userNotFound(userId);
}

export async function addMember(deps: Deps, groupId: string, userId: string): Promise<void> {
  await membershipParties(deps, groupId, userId);
  try {
    await store.addMember(deps.db, groupId, userId);
  } catch (e) {
    // Deleted meanwhile.
    if (isPostgresForeignKeyViolation(e)) await membershipParties(deps, groupId, userId);
    throw e;
  }
}

export async function assertMember(deps: Pick<Deps, 'db'>, groupId: string, userId: string): Promise<void> {
  await membershipParties(deps, groupId, userId);
  if (!(await store.isMember(deps.db, groupId, userId))) throw notAMember(userId, groupId);
}

/** Removes the user from the group and revokes its tokens (their roles may have come from the group). */
export async function removeMember(deps: Deps, groupId: string, userId: string): Promise<void> {
  await membershipParties(deps, groupId, userId);
  if (!(await store.removeMember(deps.db, groupId, userId))) throw notAMember(userId, groupId);
  await deps.tokens.revoke({ user_id: userId, issued_before: new Date() });
}

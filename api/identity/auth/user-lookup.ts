import type { Db } from '../../../lib/db/index.ts';
import * as dir from '../assignments/directory-store.ts';
import { expectingToFind, idOrNameRequired } from './errors.ts';

export interface UserRefInput {
  id?: string;
  name?: string;
  domain?: { id?: string; name?: string };
}

/** A user found for authentication, with its domain. */
export interface AuthUser {
  user: dir.UserRef;
  domain: dir.DomainRef;
}

/** The domain named by {id} or {name}; 400 when it names neither. */
export async function findDomainRef(db: Db, ref: { id?: string; name?: string }, field: string): Promise<dir.DomainRef | undefined> {
  if (!ref.id && !ref.name) throw idOrNameRequired(field);
  return ref.name ? dir.findDomainByName(db, ref.name) : dir.findDomain(db, ref.id!);
}

/** 400 unless the reference names an id, or a name (with a domain naming an id or a name). */
export function assertUserRefShape(ref: UserRefInput, field: string): void {
  if (!ref.id && !ref.name) throw idOrNameRequired(field);
  if (ref.domain !== undefined && !ref.domain.id && !ref.domain.name) throw idOrNameRequired(`${field}/domain`);
  if (!ref.id && !ref.domain) throw expectingToFind('domain', 'user');
}

/**
 * The user named by {id} or {name, domain}. Malformed references are 400s
 * (as Keystone's schema checks); an unknown user or domain is undefined,
 * for the caller to answer with the one authentication failure.
 */
export async function findUserRef(db: Db, ref: UserRefInput, field: string): Promise<AuthUser | undefined> {
  assertUserRefShape(ref, field);
  let user: dir.UserRef | undefined;
  if (ref.id) {
    user = await dir.findUser(db, ref.id);
  } else {
    const domain = await findDomainRef(db, ref.domain!, `${field}/domain`);
    user = domain ? await dir.findUserByName(db, ref.name!, domain.id) : undefined;
  }
  if (!user) return undefined;
  // As Keystone: a reference by id ignores any domain it also gives.
  const domain = await dir.findDomain(db, user.domain_id);
  return domain ? { user, domain } : undefined;
}

/** Whether a found user may authenticate at all: enabled, in an enabled domain. */
export const isUsable = (u: AuthUser) => u.user.enabled && u.domain.enabled;

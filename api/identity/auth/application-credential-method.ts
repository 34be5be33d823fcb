import { verifyPassword } from '../../../lib/passwords.ts';
import * as appCredStore from '../application-credentials/store.ts';
import type { AppCredRow } from '../application-credentials/store.ts';
import * as dir from '../assignments/directory-store.ts';
import type { IdentityContext } from '../context.ts';
import { authenticationFailed, expectingToFind } from './errors.ts';
import { spendVerificationTime } from './password-method.ts';
import { findUserRef, isUsable, type UserRefInput } from './user-lookup.ts';

type Deps = Pick<IdentityContext, 'db' | 'config'>;

export interface AppCredMethodInput {
  id?: string;
  name?: string;
  secret?: string;
  user?: UserRefInput;
}

/**
 * The application_credential method: by id, or by name for a user (by id,
 * or name in a domain), and its secret. Unknown, wrong secret, expired, or
 * a disabled owner: the same 401.
 */
export async function authenticateAppCred(deps: Deps, data: AppCredMethodInput): Promise<{ userId: string; appCred: AppCredRow }> {
  if (!data.id && !data.name) throw expectingToFind('name or ID', 'application credential');
  if (!data.id && !data.user) throw expectingToFind('user', 'application credential');
  if (typeof data.secret !== 'string' || data.secret === '') throw expectingToFind('secret', 'application_credential');

  let appCred: AppCredRow | undefined;
  if (data.id) {
    appCred = await appCredStore.getAppCred(deps.db, data.id);
  } else {
    const owner = await findUserRef(deps.db, data.user!, 'identity/application_credential/user');
    const matches = owner ? await appCredStore.listAppCreds(deps.db, owner.user.id, data.name) : [];
    appCred = matches.length === 1 ? matches[0] : undefined;
  }
  if (!appCred) {
    await spendVerificationTime(data.secret, deps.config['identity.password_hash_cost']);
    throw authenticationFailed();
  }
  if (!(await verifyPassword(data.secret, appCred.secret_hash))) throw authenticationFailed();
  if (appCred.expires_at && appCred.expires_at.getTime() <= Date.now()) throw authenticationFailed();

  const user = await dir.findUser(deps.db, appCred.user_id);
  const domain = user ? await dir.findDomain(deps.db, user.domain_id) : undefined;
  if (!user || !domain || !isUsable({ user, domain })) throw authenticationFailed();
  return { userId: user.id, appCred };
}

import { forbidden, isNuboError, unauthorized } from '../../../lib/errors.ts';
import { hashPassword } from '../../../lib/passwords.ts';
import { authenticatePassword } from '../auth/password-method.ts';
import type { IdentityContext } from '../context.ts';
import * as store from './store.ts';

type Deps = Pick<IdentityContext, 'db' | 'tokens' | 'config'>;

/**
 * POST /v3/users/{id}/password: the user proves its original password (the
 * same check as a password login, lockout included; any failure is a 401),
 * unless an administrator locked it (`lock_password`, 403). Every token it
 * holds is revoked, and failed logins are forgotten.
 */
export async function changeOwnPassword(deps: Deps, userId: string, originalPassword: string, newPassword: string): Promise<void> {
  try {
    await authenticatePassword(deps, { user: { id: userId, password: originalPassword } });
  } catch (e) {
    if (isNuboError(e) && e.kind === 'Unauthorized') throw unauthorized('Error when changing user password: Invalid user / password');
    throw e;
  }
  const user = await store.getUser(deps.db, userId);
  if (!user) throw unauthorized('Error when changing user password: Invalid user / password');
  if (user.options.lock_password === true) {
    throw forbidden(
      'You cannot change your password at this time due to password policy disallowing password changes. Please contact your administrator to reset your password.',
    );
  }
  await store.setPassword(deps.db, userId, await hashPassword(newPassword, deps.config['identity.password_hash_cost']));
  await deps.tokens.revoke({ user_id: userId, issued_before: new Date() });
}

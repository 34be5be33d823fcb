import { generateSecret, hashPassword, verifyPassword } from '../../../lib/passwords.ts';
import type { IdentityContext } from '../context.ts';
import * as creds from './credentials-store.ts';
import { authenticationFailed, expectingToFind } from './errors.ts';
import { assertUserRefShape, findUserRef, isUsable, type UserRefInput } from './user-lookup.ts';

type Deps = Pick<IdentityContext, 'db' | 'config'>;

const dummyHashes = new Map<number, Promise<string>>();

/**
 * Checks a secret against a hash nobody knows, so that an unknown user
 * costs as much time as a known one with a wrong password.
 */
export async function spendVerificationTime(secret: string, cost: number): Promise<void> {
  if (!dummyHashes.has(cost)) dummyHashes.set(cost, hashPassword(generateSecret(), cost));
  await verifyPassword(secret, await dummyHashes.get(cost)!);
}

/** Is the user locked out now (Keystone's [security_compliance] lockout)? Clears a lockout that has run out. */
async function isLockedOut(deps: Deps, userId: string, state: creds.PasswordState): Promise<boolean> {
  const attempts = deps.config['identity.lockout_failure_attempts'];
  if (attempts === 0 || state.options?.ignore_lockout_failure_attempts === true) return false;
  if (state.failed_auth_count < attempts) return false;
  const lockedUntil = (state.failed_auth_at?.getTime() ?? 0) + deps.config['identity.lockout_duration'] * 1000;
  if (lockedUntil > Date.now()) return true;
  await creds.clearFailedPasswords(deps.db, userId);
  return false;
}

/**
 * The password method: the user by id or by name in a domain, then the
 * password. Every failure (unknown, wrong password, locked, disabled,
 * expired password) is the same 401; wrong passwords count toward lockout.
 */
export async function authenticatePassword(deps: Deps, data: { user?: UserRefInput & { password?: string } }): Promise<{ userId: string }> {
  const ref = data.user;
  if (!ref || typeof ref !== 'object') throw expectingToFind('user', 'password');
  assertUserRefShape(ref, 'identity/password/user');
  if (typeof ref.password !== 'string') throw expectingToFind('password', 'user');
  const found = await findUserRef(deps.db, ref, 'identity/password/user');
  const cost = deps.config['identity.password_hash_cost'];
  const state = found ? await creds.getPasswordState(deps.db, found.user.id) : undefined;
  if (!found || !state) {
    await spendVerificationTime(ref.password, cost);
    throw authenticationFailed();
  }
  const userId = found.user.id;
  if (await isLockedOut(deps, userId, state)) {
    await spendVerificationTime(ref.password, cost);
    throw authenticationFailed();
  }
  if (!(await verifyPassword(ref.password, state.password_hash))) {
    if (deps.config['identity.lockout_failure_attempts'] > 0) await creds.recordFailedPassword(deps.db, userId);
    throw authenticationFailed();
  }
  if (state.failed_auth_count > 0) await creds.clearFailedPasswords(deps.db, userId);
  if (!isUsable(found)) throw authenticationFailed();
  if (state.password_expires_at && state.password_expires_at.getTime() <= Date.now()) throw authenticationFailed();
  return { userId };
}

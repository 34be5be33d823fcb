import type { Db } from '../../../lib/db/index.ts';

/** What password authentication reads about a user: the hash and the lockout counters. */
export interface PasswordState {
  password_hash: string | null;
  password_expires_at: Date | null;
  failed_auth_count: number;
  failed_auth_at: Date | null;
  options: Record<string, unknown>;
}

export async function getPasswordState(db: Db, userId: string): Promise<PasswordState | undefined> {
  return db('users')
    .where({ id: userId })
    .first('password_hash', 'password_expires_at', 'failed_auth_count', 'failed_auth_at', 'options');
}

/** Counts one more failed password, atomically (concurrent guesses all count). */
export async function recordFailedPassword(db: Db, userId: string): Promise<void> {
  await db('users')
    .where({ id: userId })
    .update({ failed_auth_count: db.raw('failed_auth_count + 1'), failed_auth_at: db.fn.now() });
}

/** Forgets failed passwords after a success or when a lockout has run out. */
export async function clearFailedPasswords(db: Db, userId: string): Promise<void> {
  await db('users').where({ id: userId }).andWhere('failed_auth_count', '>', 0).update({ failed_auth_count: 0, failed_auth_at: null });
}

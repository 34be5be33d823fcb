/**
 * console_auth_tokens (lib/db/migrations/012_compute_console_auth_tokens.ts):
 * remote consoles' one-time tokens, kept as their sha256.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../../../lib/db/index.ts';

export interface ConsoleTokenRow {
  id: number;
  token_hash: string;
  console_type: string;
  host: string;
  port: number;
  internal_access_path: string | null;
  instance_uuid: string;
  compute_host: string | null;
  expires: Date;
  created_at: Date;
}

export type NewConsoleToken = Omit<ConsoleTokenRow, 'id' | 'token_hash' | 'created_at'>;

export const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export async function insertToken(db: Db, token: string, row: NewConsoleToken): Promise<void> {
  await db('console_auth_tokens').insert({ ...row, token_hash: tokenHash(token) });
}

/** The token's row while it is unexpired, without using it up (os-console-auth-tokens). */
export async function findToken(db: Db, token: string, now = new Date()): Promise<ConsoleTokenRow | undefined> {
  return db('console_auth_tokens').where({ token_hash: tokenHash(token) }).andWhere('expires', '>', now).first();
}

/**
 * Uses the token up: deletes its row and returns it when it was unexpired.
 * One DELETE … RETURNING, so two proxies racing on one token cannot both win.
 */
export async function consumeToken(db: Db, token: string, now = new Date()): Promise<ConsoleTokenRow | undefined> {
  const [row] = (await db('console_auth_tokens').where({ token_hash: tokenHash(token) }).delete().returning('*')) as ConsoleTokenRow[];
  if (!row || new Date(row.expires).getTime() <= now.getTime()) return undefined;
  return row;
}

/** Removes the expired tokens (each new token sweeps, as Nova's clean_console_auths_for_instance does). */
export async function deleteExpired(db: Db, now = new Date()): Promise<number> {
  return db('console_auth_tokens').where('expires', '<=', now).delete();
}

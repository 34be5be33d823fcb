import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password and secret hashing with scrypt (memory-hard, in Node's crypto).
 * Stored form: `scrypt$<log2N>$<r>$<p>$<salt b64>$<hash b64>`, so the cost can
 * change without invalidating existing hashes.
 */
const R = 8;
const P = 1;
const KEY_LEN = 32;

function scryptAsync(secret: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  const opts: ScryptOptions = { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(secret: string, logN: number): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, logN, R, P);
  return `scrypt$${logN}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(secret: string, stored: string | null | undefined): Promise<boolean> {
  if (!stored) return false;
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, logN, r, p, salt, hash] = parts;
  const expected = Buffer.from(hash, 'base64');
  const key = await scryptAsync(secret, Buffer.from(salt, 'base64'), Number(logN), Number(r), Number(p));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A random secret suitable for passwords and application credential secrets. */
export const generateSecret = (bytes = 24) => randomBytes(bytes).toString('base64url');

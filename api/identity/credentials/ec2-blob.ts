import { createHash } from 'node:crypto';

/** Type of the credentials the OS-EC2 extension and ec2tokens use. */
export const EC2 = 'ec2';

/** What an ec2 credential's blob holds (a JSON object in the blob string). */
export interface Ec2Blob {
  access: string;
  secret?: string;
  trust_id?: string | null;
  app_cred_id?: string;
  access_token_id?: string;
  [key: string]: unknown;
}

/** The id Keystone gives an ec2 credential: the sha256 (hex) of its access key. */
export const ec2CredentialId = (access: string) => createHash('sha256').update(access, 'utf8').digest('hex');

/** The blob's object when it is a JSON object with an access key; undefined otherwise. */
export function parseEc2Blob(blob: string): Ec2Blob | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(blob);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const access = (parsed as { access?: unknown }).access;
  if (typeof access !== 'string' || access === '') return undefined;
  return parsed as Ec2Blob;
}

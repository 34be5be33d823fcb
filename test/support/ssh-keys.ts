import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

/** An SSH wire-format string: a uint32 length, then the bytes. */
const sshString = (b: Buffer) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};

/** An SSH mpint: big-endian, with a 0 byte in front when the high bit is set. */
const mpint = (b: Buffer) => sshString(b[0] & 0x80 ? Buffer.concat([Buffer.alloc(1), b]) : b);

/** `ssh-rsa AAAA… comment` for an RSA public (or private) key. */
export function opensshRsaPublicKey(key: KeyObject, comment = 'nubo-test'): string {
  const jwk = (key.type === 'public' ? key : createPublicKey(key)).export({ format: 'jwk' });
  const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), mpint(Buffer.from(jwk.e!, 'base64url')), mpint(Buffer.from(jwk.n!, 'base64url'))]);
  return `ssh-rsa ${blob.toString('base64')} ${comment}`;
}

/** A new RSA key pair; the public half in OpenSSH's one-line format. */
export function newRsaOpensshKey(comment?: string): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return opensshRsaPublicKey(publicKey, comment);
}

/** The MD5 fingerprint Nova shows (`aa:bb:…`) of an OpenSSH public key line. */
export function md5Fingerprint(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1], 'base64');
  return createHash('md5').update(blob).digest('hex').replace(/(..)(?!$)/g, '$1:');
}

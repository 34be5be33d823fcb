/**
 * Key material for keypairs, as nova/crypto.py handles it: OpenSSH public
 * keys checked and fingerprinted (MD5 of the decoded key blob, colon hex),
 * X.509 certificates fingerprinted (SHA-1 of the DER, colon hex), and new
 * keys generated — RSA 2048 for `ssh` (the private key in PEM, the public
 * one marked "Generated-by-Nova"), a self-signed client certificate and a
 * PKCS#12 bundle for `x509` (through the openssl command, as Nova does).
 */
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPair, X509Certificate, type JsonWebKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { badRequest, notImplemented } from '../../../lib/errors.ts';

export type KeypairType = 'ssh' | 'x509';

const invalidKeypair = (reason: string) => badRequest(`Keypair data is invalid: ${reason}`);

const colonHex = (hex: string) => hex.match(/../g)!.join(':');

/** Reads the SSH wire format: uint32-length-prefixed strings and mpints. */
class WireReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  bytes(): Buffer {
    if (this.at + 4 > this.buf.length) throw new Error('truncated');
    const n = this.buf.readUInt32BE(this.at);
    this.at += 4;
    if (this.at + n > this.buf.length) throw new Error('truncated');
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  text(): string {
    return this.bytes().toString('latin1');
  }
  /** A positive mpint, without its sign byte. */
  mpint(): Buffer {
    const b = this.bytes();
    if (b.length === 0 || b[0] & 0x80) throw new Error('not a positive integer');
    return b[0] === 0 ? b.subarray(1) : b;
  }
  end(): void {
    if (this.at !== this.buf.length) throw new Error('extra data after the key');
  }
}

const b64url = (b: Buffer) => b.toString('base64url');
const EC_CURVES: Record<string, { crv: string; size: number }> = {
  nistp256: { crv: 'P-256', size: 32 },
  nistp384: { crv: 'P-384', size: 48 },
  nistp521: { crv: 'P-521', size: 66 },
};

/** Checks the key blob of an OpenSSH public key of type `type` (what pyca/cryptography's load_ssh_public_key accepts). */
function checkKeyBlob(type: string, blob: Buffer): void {
  const r = new WireReader(blob);
  if (r.text() !== type) throw new Error('key type mismatch');
  let jwk: JsonWebKey | undefined;
  if (type === 'ssh-rsa') {
    const e = r.mpint();
    const n = r.mpint();
    jwk = { kty: 'RSA', e: b64url(e), n: b64url(n) };
  } else if (type === 'ssh-ed25519') {
    const x = r.bytes();
    if (x.length !== 32) throw new Error('bad ed25519 key');
    jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(x) };
  } else if (type.startsWith('ecdsa-sha2-')) {
    const curve = EC_CURVES[type.slice('ecdsa-sha2-'.length)];
    if (!curve || r.text() !== type.slice('ecdsa-sha2-'.length)) throw new Error('bad curve');
    const point = r.bytes();
    if (point.length !== 1 + 2 * curve.size || point[0] !== 4) throw new Error('bad point');
    jwk = { kty: 'EC', crv: curve.crv, x: b64url(point.subarray(1, 1 + curve.size)), y: b64url(point.subarray(1 + curve.size)) };
  } else if (type === 'ssh-dss') {
    for (let i = 0; i < 4; i++) r.mpint(); // p, q, g, y
  } else {
    throw new Error(`unsupported key type ${type}`);
  }
  r.end();
  if (jwk) createPublicKey({ key: jwk, format: 'jwk' }); // throws unless the numbers make a key (and EC points lie on the curve)
}

/**
 * The fingerprint Nova stores for an OpenSSH public key (`<type> <base64>
 * [comment]`): MD5 of the decoded key, as colon-separated hex. A key that
 * does not parse is a 400.
 */
export function sshFingerprint(publicKey: string): string {
  try {
    const parts = publicKey.split(' ');
    if (parts.length < 2) throw new Error('not an OpenSSH public key');
    const [type, body] = parts;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new Error('bad base64');
    const blob = Buffer.from(body, 'base64');
    checkKeyBlob(type, blob);
    return colonHex(createHash('md5').update(blob).digest('hex'));
  } catch {
    throw invalidKeypair('failed to generate fingerprint');
  }
}

/** The fingerprint of a PEM X.509 certificate: SHA-1 of its DER, colon-separated lowercase hex. */
export function x509Fingerprint(pem: string): string {
  try {
    return new X509Certificate(pem).fingerprint.toLowerCase();
  } catch (e) {
    throw invalidKeypair(`failed to generate X509 fingerprint. Error message: ${(e as Error).message}`);
  }
}

export function fingerprintOf(type: KeypairType, publicKey: string): string {
  return type === 'x509' ? x509Fingerprint(publicKey) : sshFingerprint(publicKey);
}

export interface GeneratedKey {
  privateKey: string;
  publicKey: string;
  fingerprint: string;
}

const sshString = (b: Buffer | string) => {
  const data = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
};
/** An unsigned big-endian integer as an SSH mpint (a leading zero byte when the top bit is set). */
const sshMpint = (b: Buffer) => sshString(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);

/** A new RSA 2048 key: private in PEM (PKCS#1, as paramiko writes it), public as `ssh-rsa … Generated-by-Nova`. */
async function generateSshKey(): Promise<GeneratedKey> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    publicExponent: 65537,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const jwk = createPublicKey(publicKey).export({ format: 'jwk' });
  const blob = Buffer.concat([sshString('ssh-rsa'), sshMpint(Buffer.from(jwk.e!, 'base64url')), sshMpint(Buffer.from(jwk.n!, 'base64url'))]);
  const ssh = `ssh-rsa ${blob.toString('base64')} Generated-by-Nova`;
  return { privateKey, publicKey: ssh, fingerprint: sshFingerprint(ssh) };
}

/** Runs openssl, feeding `input` on stdin (execFile's promise form has no stdin). */
function openssl(args: string[], input?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { encoding: 'buffer', maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin?.end(input ?? '');
  });
}

/**
 * A self-signed client certificate for WinRM (CN = user id, UPN
 * <user>@localhost, ten years), as Nova's generate_winrm_x509_cert: the
 * certificate is the public key, the private key a base64 PKCS#12 bundle
 * with an empty password.
 */
async function generateX509(userId: string): Promise<GeneratedKey> {
  // The user id goes into an openssl configuration file and subject: nothing that could break out of them.
  if (!/^[\w.@-]+$/.test(userId)) throw invalidKeypair(`cannot make a certificate for user id '${userId}'`);
  const dir = await mkdtemp(join(tmpdir(), 'nubo-x509-'));
  try {
    const conf = join(dir, 'temp.conf');
    const keyFile = join(dir, 'temp.key');
    await writeFile(
      conf,
      'distinguished_name  = req_distinguished_name\n[req_distinguished_name]\n[v3_req_client]\n' +
        `extendedKeyUsage = clientAuth\nsubjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:${userId}@localhost\n`,
    );
    const cert = (
      await openssl(['req', '-x509', '-nodes', '-days', '3650', '-config', conf, '-newkey', 'rsa:2048', '-outform', 'PEM', '-keyout', keyFile, '-subj', `/CN=${userId}`, '-extensions', 'v3_req_client'])
    ).toString('utf8');
    const p12 = await openssl(['pkcs12', '-export', '-inkey', keyFile, '-password', 'pass:'], cert);
    return { privateKey: p12.toString('base64'), publicKey: cert, fingerprint: x509Fingerprint(cert) };
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw notImplemented('Generating x509 keypairs needs the openssl command on the API host.');
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A new key of `type` for `userId`. */
export function generateKey(type: KeypairType, userId: string): Promise<GeneratedKey> {
  return type === 'x509' ? generateX509(userId) : generateSshKey();
}

import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { TokenClaims, TokenScope } from './claims.ts';
import { signingAlgorithm } from './keys.ts';

/**
 * The JWT form of TokenClaims, kept compact because every request carries it:
 *
 *   sub   user id                 udom  user's domain id
 *   mth   methods                 scope ['p', project, domain] | ['d', domain] | ['s']; absent: unscoped
 *   roles [[id, name], …]         aid   audit ids
 *   ims   issued at, milliseconds (Keystone prints sub-second issued_at)
 *   exp   expiry, seconds (JWT)   acr   application credential id
 *   acu   application credential unrestricted
 *
 * The header names the signing key (kid); the algorithm is ES256 only.
 */
export interface TokenPayload {
  sub: string;
  udom: string;
  mth: string[];
  scope?: ['p', string, string] | ['d', string] | ['s'];
  roles: [string, string][];
  aid: string[];
  ims: number;
  exp: number;
  acr?: string;
  acu?: boolean;
}

function encodeScope(scope: TokenScope): TokenPayload['scope'] {
  switch (scope.type) {
    case 'project':
      return ['p', scope.project_id, scope.domain_id];
    case 'domain':
      return ['d', scope.domain_id];
    case 'system':
      return ['s'];
    default:
      return undefined;
  }
}

function decodeScope(s: unknown): TokenScope {
  if (s === undefined) return { type: 'unscoped' };
  if (!Array.isArray(s)) throw new Error('bad scope');
  if (s[0] === 'p' && typeof s[1] === 'string' && typeof s[2] === 'string') return { type: 'project', project_id: s[1], domain_id: s[2] };
  if (s[0] === 'd' && typeof s[1] === 'string') return { type: 'domain', domain_id: s[1] };
  if (s[0] === 's') return { type: 'system' };
  throw new Error('bad scope');
}

export function toPayload(claims: TokenClaims): TokenPayload {
  const p: TokenPayload = {
    sub: claims.user_id,
    udom: claims.user_domain_id,
    mth: claims.methods,
    roles: claims.roles.map((r) => [r.id, r.name]),
    aid: claims.audit_ids,
    ims: claims.issued_at.getTime(),
    exp: Math.floor(claims.expires_at.getTime() / 1000),
  };
  const scope = encodeScope(claims.scope);
  if (scope) p.scope = scope;
  if (claims.application_credential_id !== undefined) p.acr = claims.application_credential_id;
  if (claims.application_credential_unrestricted !== undefined) p.acu = claims.application_credential_unrestricted;
  return p;
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The claims a verified payload carries; throws on a payload of the wrong shape. */
export function fromPayload(p: Record<string, unknown>): TokenClaims {
  const roles = p.roles;
  if (
    typeof p.sub !== 'string' ||
    typeof p.udom !== 'string' ||
    !isStrings(p.mth) ||
    !isStrings(p.aid) ||
    p.aid.length === 0 ||
    typeof p.ims !== 'number' ||
    typeof p.exp !== 'number' ||
    !Array.isArray(roles) ||
    !roles.every((r) => isStrings(r) && r.length === 2) ||
    (p.acr !== undefined && typeof p.acr !== 'string') ||
    (p.acu !== undefined && typeof p.acu !== 'boolean')
  ) {
    throw new Error('token payload of the wrong shape');
  }
  const claims: TokenClaims = {
    user_id: p.sub,
    user_domain_id: p.udom,
    methods: p.mth,
    scope: decodeScope(p.scope),
    roles: (roles as [string, string][]).map(([id, name]) => ({ id, name })),
    audit_ids: p.aid,
    issued_at: new Date(p.ims),
    expires_at: new Date(p.exp * 1000),
  };
  if (p.acr !== undefined) claims.application_credential_id = p.acr as string;
  if (p.acu !== undefined) claims.application_credential_unrestricted = p.acu as boolean;
  return claims;
}

export function signToken(claims: TokenClaims, key: { kid: string; privateKey: KeyObject }): string {
  return jwt.sign(toPayload(claims), key.privateKey, { algorithm: signingAlgorithm, keyid: key.kid, noTimestamp: true });
}

/** The kid in a JWT's header, without verifying anything; undefined when there is none. */
export function kidOf(token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 512) return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { kid?: unknown };
    return typeof header?.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks the signature with `publicKey` (ES256 only: a token claiming any
 * other algorithm, 'none' included, fails) and returns the claims. Expiry is
 * checked by the caller, in milliseconds.
 */
export function verifySignature(token: string, publicKey: KeyObject): TokenClaims {
  const payload = jwt.verify(token, publicKey, { algorithms: [signingAlgorithm], ignoreExpiration: true });
  if (typeof payload !== 'object' || payload === null) throw new Error('token payload is not an object');
  return fromPayload(payload as Record<string, unknown>);
}

import { randomBytes } from 'node:crypto';
import type { Bus, Subscription } from '../bus/bus.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import { unauthorized } from '../errors.ts';
import type { Logger } from '../log.ts';
import { VerifiedTokenCache } from './cache.ts';
import type { NewTokenClaims, RevocationEvent, TokenClaims, TokenService } from './claims.ts';
import { kidOf, signToken, verifySignature } from './jwt.ts';
import { KeyRing, rotateSigningKeys } from './keys.ts';
import { RevocationList } from './revocations.ts';

export type { NewTokenClaims, RevocationEvent, TokenClaims, TokenScope, TokenService } from './claims.ts';

/** Published by rotate(): every process reloads its signing keys. */
export const keysRotatedEvent = 'identity.keys_rotated';

/** Tokens longer than this are refused unread. */
const maxTokenLength = 16 * 1024;

export interface TokenServiceDeps {
  db: Db;
  bus: Bus;
  config: Pick<Config, 'identity.token_expiration' | 'identity.max_active_keys' | 'identity.revocation_poll_ms'>;
  logger: Logger;
  /** Verified tokens remembered (LRU); 0 disables the cache. */
  cacheSize?: number;
}

/** A Keystone audit id: 16 random bytes, URL-safe base64 without padding (22 characters). */
export const newAuditId = () => randomBytes(16).toString('base64url');

function freezeClaims(c: TokenClaims): TokenClaims {
  Object.freeze(c.methods);
  Object.freeze(c.audit_ids);
  for (const r of c.roles) Object.freeze(r);
  Object.freeze(c.roles);
  Object.freeze(c.scope);
  return Object.freeze(c);
}

/**
 * The token service every process runs: issues ES256 JWTs with the primary
 * signing key, verifies them locally (signature, expiry, revocation) with no
 * call to identity, records and spreads revocations, and rotates the keys.
 */
export async function createTokenService({ db, bus, config, logger, cacheSize = 10_000 }: TokenServiceDeps): Promise<TokenService> {
  const log = logger.child({ component: 'tokens' });
  const keys = new KeyRing(db, log);
  const revocations = new RevocationList({
    db,
    bus,
    logger: log,
    maxTokenLifetimeMs: config['identity.token_expiration'] * 1000,
    pollMs: config['identity.revocation_poll_ms'],
    // A backstop for a lost keys_rotated event: a cheap look at the kids and states.
    onPoll: () => keys.refreshIfChanged(),
  });
  const cache = new VerifiedTokenCache(cacheSize);

  let rotatedSub: Subscription | null = null;
  try {
    await keys.start();
    rotatedSub = await bus.subscribe(keysRotatedEvent, () => {
      keys.reload().catch((e) => log.warn({ err: e }, 'reloading the token signing keys failed'));
    });
    await revocations.start();
  } catch (e) {
    await rotatedSub?.close().catch(() => undefined);
    await revocations.close().catch(() => undefined);
    await keys.close();
    throw e;
  }

  const reject = (reason: string): never => {
    log.debug({ reason }, 'token rejected');
    throw unauthorized('The request you have made requires authentication.');
  };

  return {
    async issue(input: NewTokenClaims) {
      let primary = keys.primary;
      if (!primary) {
        await keys.reload();
        primary = keys.primary;
        if (!primary) throw new Error('no primary token signing key: run `nubo tokens rotate`');
      }
      const { parent_audit_id, ...rest } = input;
      const claims: TokenClaims = {
        ...rest,
        methods: [...input.methods],
        roles: input.roles.map((r) => ({ id: r.id, name: r.name })),
        scope: { ...input.scope },
        audit_ids: parent_audit_id ? [newAuditId(), parent_audit_id] : [newAuditId()],
        issued_at: new Date(),
        // The JWT carries whole seconds (exp), as Keystone's expires_at does.
        expires_at: new Date(Math.floor(input.expires_at.getTime() / 1000) * 1000),
      };
      if (claims.application_credential_id === undefined) delete claims.application_credential_id;
      if (claims.application_credential_unrestricted === undefined) delete claims.application_credential_unrestricted;
      const token = signToken(claims, primary);
      return { token, claims: freezeClaims(claims) };
    },

    verify(token: string): TokenClaims {
      if (typeof token !== 'string' || token.length > maxTokenLength) return reject('malformed');
      const now = Date.now();
      const hit = cache.get(token);
      if (hit) {
        if (now >= hit.expiresAtMs) {
          cache.delete(token);
          return reject('expired');
        }
        if (!keys.has(hit.kid)) {
          cache.delete(token);
          return reject('signing key retired');
        }
        if (hit.revocationVersion !== revocations.version) {
          if (revocations.isRevoked(hit.claims)) {
            cache.delete(token);
            return reject('revoked');
          }
          hit.revocationVersion = revocations.version;
        }
        return hit.claims;
      }
      const kid = kidOf(token);
      if (kid === undefined) return reject('no kid');
      const publicKey = keys.publicKey(kid);
      if (!publicKey) {
        keys.unknownKid();
        return reject('unknown kid');
      }
      let claims: TokenClaims;
      try {
        claims = verifySignature(token, publicKey);
      } catch (e) {
        return reject((e as Error).message);
      }
      const expiresAtMs = claims.expires_at.getTime();
      if (now >= expiresAtMs) return reject('expired');
      const version = revocations.version;
      if (revocations.isRevoked(claims)) return reject('revoked');
      freezeClaims(claims);
      cache.set(token, { claims, kid, expiresAtMs, revocationVersion: version });
      return claims;
    },

    async revoke(event: RevocationEvent) {
      await revocations.revoke(event);
    },

    async rotate() {
      const result = await rotateSigningKeys(db, config['identity.max_active_keys']);
      log.info({ primary: result.primary, staged: result.staged, deleted: result.deleted }, 'token signing keys rotated');
      await keys.reload();
      try {
        await bus.publish(keysRotatedEvent, { primary: result.primary });
      } catch (e) {
        log.warn({ err: e }, 'publishing the key rotation failed; other processes will see it within identity.revocation_poll_ms');
      }
    },

    async close() {
      await rotatedSub?.close();
      rotatedSub = null;
      await revocations.close();
      await keys.close();
      cache.clear();
    },
  };
}

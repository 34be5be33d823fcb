import { forbidden } from '../../../lib/errors.ts';
import type { TokenClaims, TokenService } from '../../../lib/tokens/claims.ts';
import { expectingToFind } from './errors.ts';
import { tokenNotFound } from './token-body.ts';

/** What a valid token contributes to a new one. */
export interface TokenMethodResult {
  userId: string;
  /** The parent's methods, carried into the new token. */
  methods: string[];
  /** A rescoped token never outlives its parent. */
  expiresAt: Date;
  /** The first audit id of the chain: the parent's own, or its parent's. */
  parentAuditId: string;
}

/**
 * The token method (Keystone's token_authenticate): a valid token may be
 * exchanged for one with another scope, keeping its user, its expiry and
 * its audit chain. An invalid, expired or revoked token is not found. A system-scoped token cannot become a project or domain
 * one, and a token from an application credential cannot be rescoped.
 */
export function authenticateWithToken(
  tokens: TokenService,
  data: { id?: unknown },
  requestedScope: unknown,
): TokenMethodResult {
  if (typeof data.id !== 'string' || data.id === '') throw expectingToFind('id', 'token');
  // Keystone answers a token it cannot validate here with TokenNotFound (404),
  // which Tempest checks for a token revoked by a password change.
  let parent: TokenClaims;
  try {
    parent = tokens.verify(data.id);
  } catch {
    throw tokenNotFound();
  }
  const scope = requestedScope && typeof requestedScope === 'object' ? (requestedScope as Record<string, unknown>) : {};
  if (parent.scope.type === 'system' && ('project' in scope || 'domain' in scope)) {
    throw forbidden(
      'You are not authorized to perform the requested action: Using a system-scoped token to create a project-scoped or domain-scoped token is not allowed.',
    );
  }
  if (parent.application_credential_id) {
    throw forbidden(
      'You are not authorized to perform the requested action: Using an application credential token to create another token is not allowed.',
    );
  }
  return {
    userId: parent.user_id,
    methods: parent.methods,
    expiresAt: parent.expires_at,
    parentAuditId: parent.audit_ids[1] ?? parent.audit_ids[0],
  };
}

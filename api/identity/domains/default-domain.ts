import type { TokenClaims } from '../../../lib/tokens/claims.ts';

/** The id of the domain bootstrap creates, and the one new entities fall into by default. */
export const DEFAULT_DOMAIN_ID = 'default';

/**
 * The domain of a new project, user or group that names none (Keystone's
 * _normalize_domain_id): the token's domain when it is domain-scoped,
 * otherwise the default domain.
 */
export function defaultDomainOf(claims: TokenClaims): string {
  return claims.scope.type === 'domain' ? claims.scope.domain_id : DEFAULT_DOMAIN_ID;
}

/** The domain a domain-scoped token confines lists to, or undefined. */
export function listDomainOf(claims: TokenClaims): string | undefined {
  return claims.scope.type === 'domain' ? claims.scope.domain_id : undefined;
}

import type { FastifyRequest } from 'fastify';
import { unauthorized } from '../../lib/errors.ts';
import type { Enforcer, PolicyCredentials } from '../../lib/policy/enforcer.ts';
import type { TokenClaims, TokenService } from '../../lib/tokens/claims.ts';

/** Who is calling: the verified token and the credentials policy checks read. */
export interface AuthContext {
  token: string;
  claims: TokenClaims;
  credentials: PolicyCredentials;
}

declare module 'fastify' {
  interface FastifyRequest {
    nuboAuth?: AuthContext;
  }
}

/** The credentials oslo.policy-style rules see for a token. */
export function credentialsOf(claims: TokenClaims): PolicyCredentials {
  const s = claims.scope;
  return {
    user_id: claims.user_id,
    user_domain_id: claims.user_domain_id,
    project_id: s.type === 'project' ? s.project_id : null,
    project_domain_id: s.type === 'project' ? s.domain_id : null,
    domain_id: s.type === 'domain' ? s.domain_id : null,
    system_scope: s.type === 'system' ? 'all' : null,
    roles: claims.roles.map((r) => r.name),
  };
}

/** Verifies the request's X-Auth-Token (once per request); 401 without a valid one. */
export function authenticate(request: FastifyRequest, tokens: TokenService): AuthContext {
  if (request.nuboAuth) return request.nuboAuth;
  const token = request.headers['x-auth-token'];
  if (typeof token !== 'string' || token === '') throw unauthorized();
  const claims = tokens.verify(token);
  request.nuboAuth = { token, claims, credentials: credentialsOf(claims) };
  return request.nuboAuth;
}

/** authenticate, then enforce the policy rule `action` on `target`; 403 when denied. */
export function authorize(
  request: FastifyRequest,
  deps: { tokens: TokenService; policy: Enforcer },
  action: string,
  target: Record<string, unknown> = {},
): AuthContext {
  const auth = authenticate(request, deps.tokens);
  deps.policy.authorize(action, target, auth.credentials);
  return auth;
}

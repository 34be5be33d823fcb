import type { NewTokenClaims, TokenService } from './claims.ts';

/**
 * Tokens issued to a compute agent for one job it does with another service
 * on someone's behalf: download an instance's image, upload a snapshot into
 * an image (Nova hands the agent the user's token for this). Agents hold no
 * credentials of their own, so the job's message carries such a token: the
 * user's identity and roles on the project, valid for AGENT_TOKEN_TTL_S (at
 * most identity.token_expiration), long enough for a build that waits in the
 * host's queue and a large download.
 */
export const AGENT_TOKEN_TTL_S = 3600;

export type AgentTokenClaims = Pick<NewTokenClaims, 'user_id' | 'user_domain_id' | 'scope' | 'roles' | 'parent_audit_id'>;

export async function issueAgentToken(tokens: TokenService, claims: AgentTokenClaims, maxLifetimeS: number): Promise<string> {
  const lifetimeS = Math.min(AGENT_TOKEN_TTL_S, maxLifetimeS);
  const { token } = await tokens.issue({ ...claims, methods: ['token'], expires_at: new Date(Date.now() + lifetimeS * 1000) });
  return token;
}

import { issueAgentToken } from '../../../lib/tokens/agent.ts';
import type { ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';

/**
 * A token for the agent to act with the image service as the caller did
 * (download a rebuild's image, upload a snapshot): the caller's user, scope
 * and roles, chained to the caller's token by its audit id (revoking that
 * token revokes this one), valid for the job rather than for what is left of
 * the caller's token. Never logged.
 */
export function callerAgentToken(ctx: ComputeContext, caller: ComputeCaller): Promise<string> {
  const c = caller.auth.claims;
  return issueAgentToken(
    ctx.tokens,
    { user_id: c.user_id, user_domain_id: c.user_domain_id, scope: c.scope, roles: [...c.roles], parent_audit_id: c.audit_ids[0] },
    ctx.config['identity.token_expiration'],
  );
}

import type { FastifyRequest } from 'fastify';
import { badRequest } from '../../lib/errors.ts';
import type { Db } from '../../lib/db/index.ts';
import { projectExists } from './projects/store.ts';
import { authenticate, type AuthContext } from '../http/auth.ts';
import type { ComputeContext } from './context.ts';

/** Who is asking, as Nova's request context sees it. */
export interface ComputeCaller {
  auth: AuthContext;
  userId: string;
  projectId: string | null;
  /** Nova's context.is_admin: the context_is_admin rule. */
  isAdmin: boolean;
}

export function callerOf(request: FastifyRequest, ctx: ComputeContext): ComputeCaller {
  const auth = authenticate(request, ctx.tokens);
  return {
    auth,
    userId: auth.credentials.user_id,
    projectId: auth.credentials.project_id ?? null,
    isAdmin: ctx.policy.allows('context_is_admin', {}, auth.credentials),
  };
}

/** Nova's default policy target: the caller's own project and user. */
const ownTarget = (caller: ComputeCaller) => ({ project_id: caller.projectId, user_id: caller.userId });

/** Enforces a Nova rule (403 when denied); without a target, on the caller's own project and user, as Nova does. */
export function authorizeCompute(ctx: ComputeContext, caller: ComputeCaller, action: string, target?: Record<string, unknown>): void {
  ctx.policy.authorize(action, target ?? ownTarget(caller), caller.auth.credentials);
}

/** Whether a Nova rule allows the caller (context.can(…, fatal=False)). */
export function allowsCompute(ctx: ComputeContext, caller: ComputeCaller, action: string, target?: Record<string, unknown>): boolean {
  return ctx.policy.allows(action, target ?? ownTarget(caller), caller.auth.credentials);
}

/**
 * Nova's identity.verify_project_id: a project id that names no Keystone
 * project is a 400. (Nova asks Keystone; Nubo reads the same database.)
 */
export async function verifyProjectId(db: Db, projectId: string): Promise<void> {
  if (!(await projectExists(db, projectId))) throw badRequest(`Project ID ${projectId} is not a valid project.`);
}

/**
 * A token a service issues on behalf of a user, as Nova hands the user's
 * token context to the compute host: scoped to one project with the roles
 * the user really holds there now, short-lived. The conductor gives one to
 * the compute agent to download an instance's image from the image service.
 */
import { unauthorized } from '../../../lib/errors.ts';
import type { TokenService } from '../../../lib/tokens/claims.ts';
import type { Db } from '../../../lib/db/index.ts';
import { effectiveRoleIdsOnProject } from '../assignments/effective.ts';
import * as dir from '../assignments/directory-store.ts';
import { getRoles } from '../roles/store.ts';

export async function issueDelegatedToken(deps: { db: Db; tokens: TokenService }, userId: string, projectId: string, ttlSeconds: number): Promise<string> {
  const user = await dir.findUser(deps.db, userId);
  const project = await dir.findProject(deps.db, projectId);
  if (!user || !user.enabled || !project || !project.enabled) throw unauthorized(`User ${userId} cannot act in project ${projectId}`);
  const ids = await effectiveRoleIdsOnProject(deps.db, userId, projectId);
  if (!ids.length) throw unauthorized(`User ${userId} has no access to project ${projectId}`);
  const roles = (await getRoles(deps.db, ids)).map((r) => ({ id: r.id, name: r.name }));
  const { token } = await deps.tokens.issue({
    user_id: user.id,
    user_domain_id: user.domain_id,
    methods: ['token'],
    scope: { type: 'project', project_id: project.id, domain_id: project.domain_id },
    roles,
    expires_at: new Date(Date.now() + ttlSeconds * 1000),
  });
  return token;
}

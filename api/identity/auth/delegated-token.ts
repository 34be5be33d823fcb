/**
 * A token a service issues on behalf of a user, as Nova hands the user's
 * token context to the compute host: scoped to one project with the roles
 * the user really holds there now, short-lived. The conductor gives one to
 * the compute agent to download an instance's image from the image service.
 */
import { unauthorized } from '../../../lib/errors.ts';
import type { TokenService } from '../../../lib/tokens/claims.ts';
import type { Config } from '../../../lib/config/index.ts';
import type { Db } from '../../../lib/db/index.ts';
import type { Logger } from '../../../lib/log.ts';
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

/** How long the token for an image download lasts: as long as a build may wait, plus an hour for the download. */
export const imageTokenSeconds = (config: Config) => config['scheduler.build_timeout'] + 3600;

/**
 * The conductor's imageToken: for an instance, a token of its user on its
 * project, lasting ttlSeconds; none when the user cannot have one (gone,
 * disabled, no role there), with a warning: the build goes on, and a driver
 * that needs the image data fails it with the image service's 401.
 */
export const instanceTokenIssuer =
  (deps: { db: Db; tokens: TokenService; logger: Logger }, ttlSeconds: number) =>
  async (row: { uuid: string; user_id: string; project_id: string }): Promise<string | undefined> => {
    try {
      return await issueDelegatedToken(deps, row.user_id, row.project_id, ttlSeconds);
    } catch (e) {
      deps.logger.warn({ uuid: row.uuid, user_id: row.user_id, project_id: row.project_id, err: e }, 'no token for the image download of this instance');
      return undefined;
    }
  };

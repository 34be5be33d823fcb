/**
 * The token the conductor puts into build_and_run_instance for the agent to
 * download the instance's image from the image service: issued for the
 * instance's user, scoped to its project, with the roles the user has there
 * now (so a private image of the project, a shared one and a public one all
 * download as they would for the user). No token when the user or project is
 * gone or disabled, or the user has no role left on the project: the
 * download is then refused, as the user's own request would be.
 */
import { effectiveRoleIdsOnProject } from '../../api/identity/assignments/effective.ts';
import { findProject, findUser } from '../../api/identity/assignments/directory-store.ts';
import { getRoles } from '../../api/identity/roles/store.ts';
import type { Db } from '../../lib/db/index.ts';
import type { Logger } from '../../lib/log.ts';
import { issueAgentToken } from '../../lib/tokens/agent.ts';
import type { TokenService } from '../../lib/tokens/claims.ts';
import type { InstanceRow } from './store.ts';

export function instanceUserToken(db: Db, tokens: TokenService, maxLifetimeS: number, log: Logger) {
  return async (row: Pick<InstanceRow, 'uuid' | 'user_id' | 'project_id'>): Promise<string | undefined> => {
    const [user, project] = await Promise.all([findUser(db, row.user_id), findProject(db, row.project_id)]);
    const roles = user?.enabled && project?.enabled ? await getRoles(db, await effectiveRoleIdsOnProject(db, row.user_id, row.project_id)) : [];
    if (!user || !project || roles.length === 0) {
      log.warn({ uuid: row.uuid, user_id: row.user_id, project_id: row.project_id }, 'no image token: the instance user has no role on its project');
      return undefined;
    }
    return issueAgentToken(
      tokens,
      {
        user_id: user.id,
        user_domain_id: user.domain_id,
        scope: { type: 'project', project_id: project.id, domain_id: project.domain_id },
        roles: roles.map((r) => ({ id: r.id, name: r.name })),
      },
      maxLifetimeS,
    );
  };
}

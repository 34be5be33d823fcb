/**
 * The token the conductor puts into build_and_run_instance for the agent to
 * download the instance's image from the image service: issued for the
 * instance's user, scoped to its project, with the roles the user has there
 * now (so a private image of the project, a shared one and a public one all
 * download as they would for the user). No token when the user or project is
 * gone or disabled, or the user has no role left on the project: the
 * download is then refused, as the user's own request would be.
 *
 * Issuing reads the user, the project and the effective roles (about ten
 * statements), so a token is reused for the same user and project for a
 * short while (REUSE_MS) while it still verifies: whatever identity does to
 * take the roles away (removing a grant, disabling or deleting the user or
 * the project, deleting a role) records a revocation that the token fails,
 * and a new one is then issued or refused. A reused token keeps at least
 * all but REUSE_MS of the lifetime of a fresh one.
 */
import { effectiveRoleIdsOnProject } from '../../api/identity/assignments/effective.ts';
import { findProject, findUser } from '../../api/identity/assignments/directory-store.ts';
import { getRoles } from '../../api/identity/roles/store.ts';
import type { Db } from '../../lib/db/index.ts';
import type { Logger } from '../../lib/log.ts';
import { issueAgentToken } from '../../lib/tokens/agent.ts';
import type { TokenService } from '../../lib/tokens/claims.ts';
import type { InstanceRow } from './store.ts';

/** How long an issued image token is handed out again for the same user and project. */
export const REUSE_MS = 30_000;
/** Users and projects remembered at most (the oldest forgotten first). */
const MAX_ENTRIES = 1000;

export function instanceUserToken(db: Db, tokens: TokenService, maxLifetimeS: number, log: Logger, now: () => number = Date.now) {
  const recent = new Map<string, { token: string; issuedAt: number }>();

  const issue = async (row: Pick<InstanceRow, 'uuid' | 'user_id' | 'project_id'>): Promise<string | undefined> => {
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

  const stillGood = (token: string) => {
    try {
      tokens.verify(token);
      return true;
    } catch {
      return false;
    }
  };

  return async (row: Pick<InstanceRow, 'uuid' | 'user_id' | 'project_id'>): Promise<string | undefined> => {
    const key = `${row.user_id} ${row.project_id}`;
    const t = now();
    const hit = recent.get(key);
    if (hit && t - hit.issuedAt < REUSE_MS && stillGood(hit.token)) return hit.token;
    recent.delete(key);
    const token = await issue(row);
    if (token === undefined) return undefined;
    recent.set(key, { token, issuedAt: t });
    if (recent.size > MAX_ENTRIES) recent.delete(recent.keys().next().value as string);
    return token;
  };
}

import { listEffectiveAssignments } from '../assignments/effective.ts';
import type { IdentityContext } from '../context.ts';
import * as groupStore from '../groups/store.ts';
import type { GroupRow } from '../groups/store.ts';
import * as projectStore from '../projects/store.ts';
import type { ProjectRow } from '../projects/store.ts';

type Deps = Pick<IdentityContext, 'db'>;

/**
 * GET /v3/users/{id}/projects: the projects the user has an effective role
 * on: granted directly, through a group, or inherited from a domain or a
 * parent project.
 */
export async function projectsOfUser(
  deps: Deps,
  userId: string,
  filter: { name?: string; domainId?: string; enabled?: boolean },
): Promise<ProjectRow[]> {
  const refs = await listEffectiveAssignments(deps.db, { userId });
  const ids = refs.flatMap((r) => (r.project_id ? [r.project_id] : []));
  if (ids.length === 0) return [];
  return projectStore.listProjects(deps.db, { ids, ...filter });
}

/** GET /v3/users/{id}/groups: the groups the user is a member of. */
export async function groupsOfUser(deps: Deps, userId: string, filter: { name?: string; domainId?: string }): Promise<GroupRow[]> {
  return groupStore.listGroups(deps.db, { memberId: userId, ...filter });
}

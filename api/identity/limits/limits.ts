import { forbidden, notFound } from '../../../lib/errors.ts';
import { newId } from '../../../lib/ids.ts';
import type { PolicyCredentials } from '../../../lib/policy/enforcer.ts';
import type { IdentityContext } from '../context.ts';
import * as domains from '../domains/service.ts';
import * as projects from '../projects/service.ts';
import { assertReferencesExist, storing } from './references.ts';
import * as store from './store.ts';
import type { LimitFilter, LimitRow, LimitScope } from './store.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** What a client gives for a new limit: a project's or a domain's. */
export interface LimitInput {
  project_id?: string;
  domain_id?: string;
  service_id: string;
  region_id?: string;
  resource_name: string;
  resource_limit: number;
  description?: string | null;
}

export const limitNotFound = (id: string) => notFound(`Could not find limit for ${id}.`);
const noLimitReference = () => forbidden('Unable to create a limit that has no corresponding registered limit.');

/** The enforcement model: Keystone's default, flat (project hierarchy is not considered). */
export const limitModel = {
  name: 'flat',
  description: 'Limit enforcement and validation does not take project hierarchy into consideration.',
} as const;

export async function getLimit(deps: Deps, id: string): Promise<LimitRow> {
  const row = await store.getLimit(deps.db, id);
  if (!row) throw limitNotFound(id);
  return row;
}

/**
 * The limit (if any) and what get_limit's rule reads: `target.limit`, with
 * the limit's project (for its domain_id) or domain; empty when there is no
 * such limit (the 404 comes after the rule, as in Keystone).
 */
export async function findLimitForPolicy(deps: Deps, id: string): Promise<{ limit?: LimitRow; target: Record<string, unknown> }> {
  const limit = await store.getLimit(deps.db, id);
  if (!limit) return { target: {} };
  const project = limit.project_id ? await projects.findProject(deps, limit.project_id) : undefined;
  const domain = limit.domain_id ? await domains.findDomain(deps, limit.domain_id) : undefined;
  return { limit, target: { limit: { ...limit, ...(project ? { project } : {}), ...(domain ? { domain } : {}) } } };
}

/**
 * The limits a caller may list, as Keystone decides: all for a system-scoped
 * token or an admin or service role; for a domain-scoped token the domain's
 * and its projects'; for a project-scoped one the project's; none unscoped.
 */
export async function listLimits(deps: Deps, filter: LimitFilter, caller: PolicyCredentials): Promise<LimitRow[]> {
  let scope: LimitScope | undefined;
  if (caller.system_scope || caller.roles.includes('admin') || caller.roles.includes('service')) scope = undefined;
  else if (caller.domain_id) scope = { domainId: caller.domain_id };
  else if (caller.project_id) scope = { projectId: caller.project_id };
  else return [];
  return store.listLimits(deps.db, filter, scope);
}

/**
 * Creates the limits, all or none: each service, region, project or domain
 * must exist (400), each must override a registered limit for its service,
 * region and resource (403, as Keystone), and each project or domain may
 * have one limit per registered limit (409).
 */
export async function createLimits(deps: Deps, inputs: readonly LimitInput[]): Promise<LimitRow[]> {
  const checkAll = async () => {
    const checked: LimitInput[] = [];
    for (const input of inputs) checked.push(await assertReferencesExist(deps, input, 'limit'));
    return checked;
  };
  const checked = await checkAll();
  const insertAll = () =>
    deps.db.transaction(async (trx) => {
      const created: LimitRow[] = [];
      for (const input of checked) {
        const key = { service_id: input.service_id, region_id: input.region_id ?? null, resource_name: input.resource_name };
        const registered = await store.findRegisteredLimit(trx, key);
        if (!registered) throw noLimitReference();
        const row = {
          id: newId(),
          project_id: input.project_id ?? null,
          domain_id: input.domain_id ?? null,
          resource_limit: input.resource_limit,
          description: input.description ?? null,
        };
        await store.insertLimit(trx, { ...row, registered_limit_id: registered.id });
        created.push({ ...row, ...key });
      }
      return created;
    });
  return storing('limit', insertAll, async () => {
    await checkAll();
    throw noLimitReference();
  });
}

/** Changes a limit's resource_limit or description (nothing else may change). */
export async function updateLimit(deps: Deps, id: string, input: { resource_limit?: number; description?: string | null }): Promise<LimitRow> {
  const limit = await getLimit(deps, id);
  const changes: { resource_limit?: number; description?: string | null } = {};
  if (input.resource_limit !== undefined) changes.resource_limit = input.resource_limit;
  if (input.description !== undefined) changes.description = input.description;
  if (Object.keys(changes).length > 0) await store.updateLimit(deps.db, id, changes);
  return { ...limit, ...changes };
}

export async function deleteLimit(deps: Deps, id: string): Promise<void> {
  if (!(await store.deleteLimit(deps.db, id))) throw limitNotFound(id);
}

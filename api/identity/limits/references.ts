import { isPostgresForeignKeyViolation, isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { conflict } from '../../../lib/errors.ts';
import { expectingToFind } from '../auth/errors.ts';
import * as services from '../catalog/services.ts';
import * as regions from '../catalog/regions.ts';
import * as domains from '../domains/service.ts';
import * as projects from '../projects/service.ts';
import type { IdentityContext } from '../context.ts';

type Deps = Pick<IdentityContext, 'db'>;

/** What a registered limit or limit refers to; each given one must exist. */
export interface References {
  service_id?: string;
  region_id?: string | null;
  project_id?: string;
  domain_id?: string;
}

/** 'registered_limit' or 'limit': what Keystone's messages call the thing being stored. */
export type LimitKind = 'registered_limit' | 'limit';

/**
 * Keystone's check that the service, region, project and domain a (registered)
 * limit names exist: a 400 "Expecting to find <attribute> in <kind>" for the
 * first that does not. A project id naming a domain makes it a domain limit,
 * as in Keystone (whose domains are projects acting as domains).
 */
export async function assertReferencesExist<T extends References>(deps: Deps, ref: T, kind: LimitKind): Promise<T> {
  if (ref.service_id !== undefined && !(await services.findService(deps, ref.service_id))) throw expectingToFind('service_id', kind);
  if (ref.region_id != null && !(await regions.findRegion(deps, ref.region_id))) throw expectingToFind('region_id', kind);
  let result = ref;
  if (ref.project_id !== undefined && !(await projects.findProject(deps, ref.project_id))) {
    if (!(await domains.findDomain(deps, ref.project_id))) throw expectingToFind('project_id', kind);
    const { project_id, ...rest } = ref;
    result = { ...rest, domain_id: project_id } as T;
  }
  if (result.domain_id !== undefined && !(await domains.findDomain(deps, result.domain_id))) throw expectingToFind('domain_id', kind);
  return result;
}

export const duplicateEntry = (kind: LimitKind) => conflict(`Conflict occurred attempting to store ${kind} - Duplicate entry.`);

/**
 * Runs a write that stores a (registered) limit: a unique violation is
 * Keystone's 409 Duplicate entry; after a foreign key violation (something
 * it names was deleted meanwhile) `recheck` throws the error that explains it.
 */
export async function storing<T>(kind: LimitKind, write: () => Promise<T>, recheck: () => Promise<unknown>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw duplicateEntry(kind);
    if (isPostgresForeignKeyViolation(e)) await recheck();
    throw e;
  }
}

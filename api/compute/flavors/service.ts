import { randomUUID } from 'node:crypto';
import { isPostgresUniqueViolation } from '../../../lib/db/index.ts';
import { badRequest, conflict, notFound } from '../../../lib/errors.ts';
import { authorizeCompute, verifyProjectId, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { parseBool, validateInteger, type Page } from '../query.ts';
import * as store from './store.ts';
import type { FlavorRow, FlavorSortKey } from './store.ts';

/** The largest value an integer column holds (nova/db/constants.py MAX_INT). */
const MAX_INT = 0x7fffffff;
/** The largest rxtx_factor (SQL_SP_FLOAT_MAX). */
const SQL_SP_FLOAT_MAX = 3.40282e38;

export const flavorNotFound = (flavorid: string) => notFound(`Flavor ${flavorid} could not be found.`);

const viewerOf = (caller: ComputeCaller): store.FlavorViewer => ({ isAdmin: caller.isAdmin, projectId: caller.projectId });

/** The flavor `flavorid` if the caller may see it (private ones: admins and projects with access), else 404. */
export async function findFlavor(ctx: ComputeContext, caller: ComputeCaller, flavorid: string): Promise<FlavorRow> {
  const flavor = await store.getFlavor(ctx.db, flavorid, viewerOf(caller));
  if (!flavor) throw flavorNotFound(flavorid);
  return flavor;
}

export interface FlavorListQuery {
  /** The raw is_public parameter, if given (admins only: true/false/None). */
  isPublic?: string;
  minRam?: string;
  minDisk?: string;
  sortKey: FlavorSortKey;
  sortDir: 'asc' | 'desc';
  page: Page;
}

/**
 * Lists flavors as Nova does: non-admins see public flavors and those shared
 * with their project (never disabled ones); admins choose with is_public —
 * absent or true is the same as a non-admin's view, false private flavors
 * only, `None` all of them.
 */
export async function listFlavors(ctx: ComputeContext, caller: ComputeCaller, q: FlavorListQuery): Promise<FlavorRow[]> {
  let isPublic: boolean | null = true;
  if (caller.isAdmin && q.isPublic !== undefined) {
    if (q.isPublic.toLowerCase() === 'none') isPublic = null;
    else {
      const parsed = parseBool(q.isPublic);
      if (parsed === undefined) throw badRequest(`Invalid is_public filter [${q.isPublic}]`);
      isPublic = parsed;
    }
  }
  const intFilter = (value: string | undefined, name: string) => {
    if (value === undefined) return undefined;
    if (!/^\s*[-+]?\d+\s*$/.test(value)) throw badRequest(`Invalid ${name} filter [${value}]`);
    return Number(value);
  };
  const minMemoryMb = intFilter(q.minRam, 'minRam');
  const minRootGb = intFilter(q.minDisk, 'minDisk');
  let after: FlavorRow | undefined;
  if (q.page.marker !== undefined) {
    after = await store.getFlavor(ctx.db, q.page.marker, viewerOf(caller));
    if (!after) throw badRequest(`marker [${q.page.marker}] not found`);
  }
  return store.listFlavors(ctx.db, {
    isPublic,
    projectId: caller.projectId,
    minMemoryMb,
    minRootGb,
    hideDisabled: !caller.isAdmin,
    sortKey: q.sortKey,
    sortDir: q.sortDir,
    limit: q.page.limit,
    after,
  });
}

/** POST /flavors, as validated by the spec (FlavorCreateRequest…). */
export interface FlavorInput {
  name: string;
  id?: string | number | null;
  ram: number | string;
  vcpus: number | string;
  disk: number | string;
  'OS-FLV-EXT-DATA:ephemeral'?: number | string;
  swap?: number | string;
  rxtx_factor?: number | string;
  'os-flavor-access:is_public'?: boolean | string;
  description?: string | null;
}

/**
 * Creates a flavor (admins): an id given as a number is kept as its text, no
 * id (or an empty one) gets a UUID; ram and vcpus ≥ 1, disk, ephemeral and
 * swap ≥ 0; rxtx_factor > 0. A taken id or name is a 409. Private flavors
 * start with no project having access (as Nova, bug 1209101).
 */
export async function createFlavor(ctx: ComputeContext, caller: ComputeCaller, input: FlavorInput): Promise<FlavorRow> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-flavor-manage:create', {});
  const flavorid = input.id === undefined || input.id === null || input.id === '' || input.id === 0 ? randomUUID() : String(input.id);
  const rxtx = Number(input.rxtx_factor ?? 1.0);
  if (!(rxtx > 0 && rxtx <= SQL_SP_FLOAT_MAX)) {
    throw badRequest(`Invalid input received: 'rxtx_factor' argument must be a float between 0 and ${SQL_SP_FLOAT_MAX}`);
  }
  const isPublic = parseBool(input['os-flavor-access:is_public'] ?? true);
  if (isPublic === undefined) throw badRequest('Invalid input received: is_public must be a boolean');
  const row: store.NewFlavor = {
    flavorid,
    name: input.name.trim(),
    memory_mb: validateInteger(input.ram, 'ram', 1, MAX_INT),
    vcpus: validateInteger(input.vcpus, 'vcpus', 1, MAX_INT),
    root_gb: validateInteger(input.disk, 'disk', 0, MAX_INT),
    ephemeral_gb: validateInteger(input['OS-FLV-EXT-DATA:ephemeral'] ?? 0, 'ephemeral', 0, MAX_INT),
    swap: validateInteger(input.swap ?? 0, 'swap', 0, MAX_INT),
    rxtx_factor: rxtx,
    is_public: isPublic,
    description: input.description ?? null,
  };
  try {
    return await store.insertFlavor(ctx.db, row);
  } catch (e) {
    if (!isPostgresUniqueViolation(e)) throw e;
    if (await store.flavoridExists(ctx.db, flavorid)) throw conflict(`Flavor with ID ${flavorid} already exists.`);
    throw conflict(`Flavor with name ${row.name} already exists.`);
  }
}

/** PUT /flavors/{id} (2.55): only the description changes. */
export async function updateFlavorDescription(ctx: ComputeContext, caller: ComputeCaller, flavorid: string, description: string | null): Promise<FlavorRow> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-flavor-manage:update', {});
  const flavor = await findFlavor(ctx, caller, flavorid);
  const updated = await store.updateFlavorDescription(ctx.db, flavor.id, description);
  if (!updated) throw flavorNotFound(flavorid);
  return updated;
}

/** DELETE /flavors/{id}: servers keep their copy of the flavor (Nova embeds it in the instance). */
export async function deleteFlavor(ctx: ComputeContext, caller: ComputeCaller, flavorid: string): Promise<void> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-flavor-manage:delete', {});
  if (!(await store.deleteFlavor(ctx.db, flavorid))) throw flavorNotFound(flavorid);
}

// Access: the projects a private flavor is shared with

const accessNotFound = (flavorid: string, projectId: string) => notFound(`Flavor access not found for ${flavorid} / ${projectId} combination.`);

/** GET /flavors/{id}/os-flavor-access: a public flavor has no list (404). */
export async function listFlavorAccess(ctx: ComputeContext, caller: ComputeCaller, flavorid: string): Promise<string[]> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-flavor-access');
  const flavor = await findFlavor(ctx, caller, flavorid);
  if (flavor.is_public) throw notFound('Access list not available for public flavors.');
  return store.flavorProjects(ctx.db, flavor.id);
}

/**
 * addTenantAccess: shares a flavor with an existing project; a second time
 * is a 409, and from 2.7 so is sharing a public flavor. Returns the new list.
 */
export async function addFlavorAccess(
  ctx: ComputeContext,
  caller: ComputeCaller,
  flavorid: string,
  projectId: string,
  refusePublic: boolean,
): Promise<string[]> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-flavor-access:add_tenant_access', {});
  await verifyProjectId(ctx.db, projectId);
  const flavor = await findFlavor(ctx, caller, flavorid);
  if (refusePublic && flavor.is_public) throw conflict('Can not add access to a public flavor.');
  try {
    await store.addFlavorProject(ctx.db, flavor.id, projectId);
  } catch (e) {
    if (isPostgresUniqueViolation(e)) {
      throw conflict(`Flavor access already exists for flavor ${flavorid} and project ${projectId} combination.`);
    }
    throw e;
  }
  return store.flavorProjects(ctx.db, flavor.id);
}

/** removeTenantAccess: the project need not exist any more; a project without access is a 404. */
export async function removeFlavorAccess(ctx: ComputeContext, caller: ComputeCaller, flavorid: string, projectId: string): Promise<string[]> {
  authorizeCompute(ctx, caller, 'os_compute_api:os-flavor-access:remove_tenant_access', {});
  const flavor = await findFlavor(ctx, caller, flavorid);
  if (!(await store.removeFlavorProject(ctx.db, flavor.id, projectId))) throw accessNotFound(flavorid, projectId);
  return store.flavorProjects(ctx.db, flavor.id);
}

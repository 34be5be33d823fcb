import { isPostgresForeignKeyViolation } from '../../../lib/db/index.ts';
import { conflict, notFound } from '../../../lib/errors.ts';
import * as endpoints from '../catalog/endpoints.ts';
import type { EndpointRow } from '../catalog/endpoint-store.ts';
import type { IdentityContext } from '../context.ts';
import * as projects from '../projects/service.ts';
import type { ProjectRow } from '../projects/store.ts';
import * as store from './association-store.ts';
import { matchesFilters } from './filters.ts';
import * as groupStore from './group-store.ts';
import type { EndpointGroupRow } from './group-store.ts';
import { getEndpointGroup } from './service.ts';

/**
 * Which projects may use which endpoints (OS-EP-FILTER): an endpoint
 * associated with a project directly, or every endpoint an endpoint group
 * associated with the project selects.
 */
type Deps = Pick<IdentityContext, 'db'>;

const duplicate = (type: string) => conflict(`Conflict occurred attempting to store ${type} - Duplicate entry.`);
const endpointNotInProject = (endpointId: string, projectId: string) => notFound(`Endpoint ${endpointId} not found in project ${projectId}`);
const groupNotInProject = () => notFound('Endpoint Group Project Association not found');

/** Runs `add`; a project, endpoint or group deleted meanwhile is the 404 `gone` gives. */
async function inserting(add: () => Promise<boolean>, type: string, gone: () => Promise<unknown>): Promise<void> {
  try {
    if (!(await add())) throw duplicate(type);
  } catch (e) {
    if (isPostgresForeignKeyViolation(e)) await gone();
    throw e;
  }
}

export async function addEndpointToProject(deps: Deps, projectId: string, endpointId: string): Promise<void> {
  await endpoints.getEndpoint(deps, endpointId);
  await projects.getProject(deps, projectId);
  await inserting(() => store.addEndpointToProject(deps.db, endpointId, projectId), 'project_endpoint', async () => {
    await endpoints.getEndpoint(deps, endpointId);
    await projects.getProject(deps, projectId);
  });
}

/** 404 unless the endpoint is associated with the project directly. */
export async function checkEndpointInProject(deps: Deps, projectId: string, endpointId: string): Promise<void> {
  await endpoints.getEndpoint(deps, endpointId);
  await projects.getProject(deps, projectId);
  if (!(await store.endpointInProject(deps.db, endpointId, projectId))) throw endpointNotInProject(endpointId, projectId);
}

export async function removeEndpointFromProject(deps: Deps, projectId: string, endpointId: string): Promise<void> {
  if (!(await store.removeEndpointFromProject(deps.db, endpointId, projectId))) throw endpointNotInProject(endpointId, projectId);
}

/** The projects associated with the endpoint directly (not through endpoint groups), as Keystone lists them. */
export async function listProjectsOfEndpoint(deps: Deps, endpointId: string): Promise<ProjectRow[]> {
  await endpoints.getEndpoint(deps, endpointId);
  return projects.listProjects(deps, { ids: await store.listProjectIdsOfEndpoint(deps.db, endpointId) });
}

/** The endpoints the project may use: those associated directly and those its endpoint groups select. */
export async function listEndpointsOfProject(deps: Deps, projectId: string): Promise<EndpointRow[]> {
  await projects.getProject(deps, projectId);
  const direct = new Set(await store.listEndpointIdsOfProject(deps.db, projectId));
  const groupIds = await store.listEndpointGroupIdsOfProject(deps.db, projectId);
  const groups = groupIds.length > 0 ? await groupStore.listEndpointGroups(deps.db, { ids: groupIds }) : [];
  const all = await endpoints.listEndpoints(deps, {});
  return all.filter((e) => direct.has(e.id) || groups.some((g) => matchesFilters(e, g.filters)));
}

export async function addEndpointGroupToProject(deps: Deps, endpointGroupId: string, projectId: string): Promise<void> {
  await projects.getProject(deps, projectId);
  await getEndpointGroup(deps, endpointGroupId);
  await inserting(() => store.addEndpointGroupToProject(deps.db, endpointGroupId, projectId), 'project_endpoint_group', async () => {
    await projects.getProject(deps, projectId);
    await getEndpointGroup(deps, endpointGroupId);
  });
}

/** 404 unless the project, the group and their association exist. */
export async function checkEndpointGroupInProject(deps: Deps, endpointGroupId: string, projectId: string): Promise<void> {
  await projects.getProject(deps, projectId);
  await getEndpointGroup(deps, endpointGroupId);
  if (!(await store.endpointGroupInProject(deps.db, endpointGroupId, projectId))) throw groupNotInProject();
}

export async function removeEndpointGroupFromProject(deps: Deps, endpointGroupId: string, projectId: string): Promise<void> {
  await projects.getProject(deps, projectId);
  await getEndpointGroup(deps, endpointGroupId);
  if (!(await store.removeEndpointGroupFromProject(deps.db, endpointGroupId, projectId))) throw groupNotInProject();
}

export async function listEndpointGroupsOfProject(deps: Deps, projectId: string): Promise<EndpointGroupRow[]> {
  await projects.getProject(deps, projectId);
  const ids = await store.listEndpointGroupIdsOfProject(deps.db, projectId);
  return ids.length > 0 ? groupStore.listEndpointGroups(deps.db, { ids }) : [];
}

/** The projects associated with the group. */
export async function listProjectsOfEndpointGroup(deps: Deps, endpointGroupId: string): Promise<ProjectRow[]> {
  await getEndpointGroup(deps, endpointGroupId);
  return projects.listProjects(deps, { ids: await store.listProjectIdsOfEndpointGroup(deps.db, endpointGroupId) });
}

import type { Db } from '../../../lib/db/index.ts';

/**
 * OS-EP-FILTER's associations: `project_endpoints` (a project may use an
 * endpoint) and `project_endpoint_groups` (a project may use the endpoints
 * of a group). Both go with the project, endpoint or group (ON DELETE CASCADE).
 */

/** Adds the association; false when it already existed. */
export async function addEndpointToProject(db: Db, endpointId: string, projectId: string): Promise<boolean> {
  const rows = await db('project_endpoints')
    .insert({ endpoint_id: endpointId, project_id: projectId })
    .onConflict(['endpoint_id', 'project_id'])
    .ignore()
    .returning('endpoint_id');
  return rows.length > 0;
}

export async function endpointInProject(db: Db, endpointId: string, projectId: string): Promise<boolean> {
  return (await db('project_endpoints').where({ endpoint_id: endpointId, project_id: projectId }).first('endpoint_id')) !== undefined;
}

/** Returns whether the association existed. */
export async function removeEndpointFromProject(db: Db, endpointId: string, projectId: string): Promise<boolean> {
  const rows = await db('project_endpoints').where({ endpoint_id: endpointId, project_id: projectId }).delete().returning('endpoint_id');
  return rows.length > 0;
}

export async function listEndpointIdsOfProject(db: Db, projectId: string): Promise<string[]> {
  const rows: { endpoint_id: string }[] = await db('project_endpoints').where({ project_id: projectId }).select('endpoint_id');
  return rows.map((r) => r.endpoint_id);
}

export async function listProjectIdsOfEndpoint(db: Db, endpointId: string): Promise<string[]> {
  const rows: { project_id: string }[] = await db('project_endpoints').where({ endpoint_id: endpointId }).select('project_id');
  return rows.map((r) => r.project_id);
}

/** Adds the association; false when it already existed. */
export async function addEndpointGroupToProject(db: Db, endpointGroupId: string, projectId: string): Promise<boolean> {
  const rows = await db('project_endpoint_groups')
    .insert({ endpoint_group_id: endpointGroupId, project_id: projectId })
    .onConflict(['endpoint_group_id', 'project_id'])
    .ignore()
    .returning('endpoint_group_id');
  return rows.length > 0;
}

export async function endpointGroupInProject(db: Db, endpointGroupId: string, projectId: string): Promise<boolean> {
  const row = await db('project_endpoint_groups').where({ endpoint_group_id: endpointGroupId, project_id: projectId }).first('project_id');
  return row !== undefined;
}

/** Returns whether the association existed. */
export async function removeEndpointGroupFromProject(db: Db, endpointGroupId: string, projectId: string): Promise<boolean> {
  const rows = await db('project_endpoint_groups')
    .where({ endpoint_group_id: endpointGroupId, project_id: projectId })
    .delete()
    .returning('project_id');
  return rows.length > 0;
}

export async function listEndpointGroupIdsOfProject(db: Db, projectId: string): Promise<string[]> {
  const rows: { endpoint_group_id: string }[] = await db('project_endpoint_groups').where({ project_id: projectId }).select('endpoint_group_id');
  return rows.map((r) => r.endpoint_group_id);
}

export async function listProjectIdsOfEndpointGroup(db: Db, endpointGroupId: string): Promise<string[]> {
  const rows: { project_id: string }[] = await db('project_endpoint_groups').where({ endpoint_group_id: endpointGroupId }).select('project_id');
  return rows.map((r) => r.project_id);
}

import type { FastifyRequest } from 'fastify';
import { v3Url } from '../roles/view.ts';
import type { AssignmentRef } from './effective.ts';
import type { NameBook } from './role-assignments-service.ts';

type Named = { id: string; name?: string; domain?: { id: string; name: string } };

/**
 * One entry of GET /v3/role_assignments, shaped as Keystone's
 * RoleAssignmentsResource._format_entity: the role, the user or group, the
 * scope (with OS-INHERIT:inherited_to when the assignment comes from an
 * inherited grant) and a link to the grant that produced it.
 */
export function roleAssignmentView(request: FastifyRequest, ref: AssignmentRef, names?: NameBook) {
  const domainRef = (id: string) => ({ id, name: names?.domains.get(id)?.name ?? '' });
  const links: Record<string, string> = {};
  const scope: Record<string, unknown> = {};
  let inherited = ref.inherited_to_projects === true;
  let link = '';

  if (ref.project_id) {
    const p = names?.projects.get(ref.project_id);
    scope.project = names ? { id: ref.project_id, name: p?.name ?? '', domain: domainRef(p?.domain_id ?? '') } : { id: ref.project_id };
    if (ref.indirect?.domain_id) {
      inherited = true;
      link = `/domains/${ref.indirect.domain_id}`;
    } else if (ref.indirect?.project_id) {
      inherited = true;
      link = `/projects/${ref.indirect.project_id}`;
    } else {
      link = `/projects/${ref.project_id}`;
    }
  } else if (ref.domain_id) {
    scope.domain = names ? domainRef(ref.domain_id) : { id: ref.domain_id };
    link = `/domains/${ref.domain_id}`;
  } else if (ref.system) {
    scope.system = { all: true };
    link = '/system';
  }

  const entity: Record<string, unknown> = {};
  if (ref.user_id) {
    const u = names?.users.get(ref.user_id);
    entity.user = (names ? { id: ref.user_id, name: u?.name ?? '', domain: domainRef(u?.domain_id ?? '') } : { id: ref.user_id }) satisfies Named;
    if (ref.indirect?.group_id) {
      links.membership = v3Url(request, `/groups/${ref.indirect.group_id}/users/${ref.user_id}`);
      link += `/groups/${ref.indirect.group_id}`;
    } else {
      link += `/users/${ref.user_id}`;
    }
  } else if (ref.group_id) {
    const g = names?.groups.get(ref.group_id);
    entity.group = (names ? { id: ref.group_id, name: g?.name ?? '', domain: domainRef(g?.domain_id ?? '') } : { id: ref.group_id }) satisfies Named;
    link += `/groups/${ref.group_id}`;
  }

  const role = names?.roles.get(ref.role_id);
  entity.role = names
    ? { id: ref.role_id, name: role?.name ?? '', ...(role?.domain_id ? { domain: domainRef(role.domain_id) } : {}) }
    : { id: ref.role_id };

  let priorRoleLink = '';
  if (ref.indirect?.role_id) {
    link += `/roles/${ref.indirect.role_id}`;
    priorRoleLink = `/prior_role/${ref.role_id}/implies/${ref.indirect.role_id}`;
  } else {
    link += `/roles/${ref.role_id}`;
  }
  if (inherited) {
    scope['OS-INHERIT:inherited_to'] = 'projects';
    link = `/OS-INHERIT${link}/inherited_to_projects`;
  }
  links.assignment = v3Url(request, link);
  if (priorRoleLink) links.prior_role = v3Url(request, priorRoleLink);
  return { ...entity, scope, links };
}

import type { FastifyInstance } from 'fastify';
import { authenticate, authorize } from '../../http/auth.ts';
import type { IdentityContext } from '../context.ts';
import { collectionLinks } from '../roles/view.ts';
import { registerGrantRoutes } from './grant-routes.ts';
import { queryFlag } from './query.ts';
import { roleAssignmentView } from './role-assignment-view.ts';
import { findProjectForPolicy, listRoleAssignments, type RoleAssignmentFilters } from './role-assignments-service.ts';

type RoleAssignmentQuery = Record<string, string | undefined>;

/** The grant API and GET /v3/role_assignments. */
export function registerAssignmentRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  registerGrantRoutes(app, ctx);

  app.get<{ Querystring: RoleAssignmentQuery }>('/v3/role_assignments', async (request) => {
    const q = request.query;
    const inheritedTo = q['scope.OS-INHERIT:inherited_to'];
    const filters: RoleAssignmentFilters = {
      userId: q['user.id'] || undefined,
      groupId: q['group.id'] || undefined,
      roleId: q['role.id'] || undefined,
      projectId: q['scope.project.id'] || undefined,
      domainId: q['scope.domain.id'] || undefined,
      system: q['scope.system'] === 'all',
      inherited: inheritedTo === undefined ? undefined : inheritedTo === 'projects',
      effective: queryFlag(q, 'effective'),
      includeNames: queryFlag(q, 'include_names'),
      includeSubtree: queryFlag(q, 'include_subtree'),
    };
    let scopeDomainId: string | undefined;
    if (filters.includeSubtree) {
      const project = filters.projectId ? await findProjectForPolicy(ctx, filters.projectId) : undefined;
      authorize(request, ctx, 'identity:list_role_assignments_for_tree', project ? { target: { project, domain_id: project.domain_id } } : {});
    } else {
      const auth = authenticate(request, ctx.tokens);
      scopeDomainId = auth.claims.scope.type === 'domain' ? auth.claims.scope.domain_id : undefined;
      authorize(request, ctx, 'identity:list_role_assignments', scopeDomainId ? { target: { domain_id: scopeDomainId } } : {});
    }
    const { refs, names } = await listRoleAssignments(ctx, filters, scopeDomainId);
    return { role_assignments: refs.map((r) => roleAssignmentView(request, r, names)), links: collectionLinks(request) };
  });
}

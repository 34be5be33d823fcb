import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize } from '../../http/auth.ts';
import type { IdentityContext } from '../context.ts';
import { collectionLinks, roleView } from '../roles/view.ts';
import * as grants from './grants-service.ts';
import type { GrantSpec } from './grants-service.ts';

interface GrantUrl {
  /** The list URL without the OS-INHERIT suffix; a grant is `${base}/:role_id${suffix}`. */
  base: string;
  suffix: string;
  actor: 'user' | 'group';
  target: 'project' | 'domain' | 'system';
  inherited: boolean;
  /** Whether GET `${base}${suffix}` lists the grants (Keystone has no list for inherited project grants). */
  listable: boolean;
}

const INHERITED = '/inherited_to_projects';

/** Every grant URL Keystone serves (keystone/api/projects.py, domains.py, system.py, os_inherit.py). */
const grantUrls: GrantUrl[] = [
  { base: '/v3/projects/:project_id/users/:user_id/roles', suffix: '', actor: 'user', target: 'project', inherited: false, listable: true },
  { base: '/v3/projects/:project_id/groups/:group_id/roles', suffix: '', actor: 'group', target: 'project', inherited: false, listable: true },
  { base: '/v3/domains/:domain_id/users/:user_id/roles', suffix: '', actor: 'user', target: 'domain', inherited: false, listable: true },
  { base: '/v3/domains/:domain_id/groups/:group_id/roles', suffix: '', actor: 'group', target: 'domain', inherited: false, listable: true },
  { base: '/v3/system/users/:user_id/roles', suffix: '', actor: 'user', target: 'system', inherited: false, listable: true },
  { base: '/v3/system/groups/:group_id/roles', suffix: '', actor: 'group', target: 'system', inherited: false, listable: true },
  { base: '/v3/OS-INHERIT/domains/:domain_id/users/:user_id/roles', suffix: INHERITED, actor: 'user', target: 'domain', inherited: true, listable: true },
  { base: '/v3/OS-INHERIT/domains/:domain_id/groups/:group_id/roles', suffix: INHERITED, actor: 'group', target: 'domain', inherited: true, listable: true },
  { base: '/v3/OS-INHERIT/projects/:project_id/users/:user_id/roles', suffix: INHERITED, actor: 'user', target: 'project', inherited: true, listable: false },
  { base: '/v3/OS-INHERIT/projects/:project_id/groups/:group_id/roles', suffix: INHERITED, actor: 'group', target: 'project', inherited: true, listable: false },
];

type GrantParams = { project_id?: string; domain_id?: string; user_id?: string; group_id?: string; role_id?: string };

function specOf(url: GrantUrl, p: GrantParams): GrantSpec {
  return {
    actor: { kind: url.actor, id: (url.actor === 'user' ? p.user_id : p.group_id)! },
    target: { kind: url.target, id: url.target === 'project' ? p.project_id! : url.target === 'domain' ? p.domain_id! : 'system' },
    inherited: url.inherited,
  };
}

type Verb = 'create' | 'check' | 'list' | 'revoke';

/** identity:create_grant… for projects and domains; identity:create_system_grant_for_user… for the system. */
function actionOf(url: GrantUrl, verb: Verb): string {
  if (url.target !== 'system') return `identity:${verb}_grant${verb === 'list' ? 's' : ''}`;
  return `identity:${verb}_system_grant${verb === 'list' ? 's' : ''}_for_${url.actor}`;
}

/** Keystone's policy target: the refs of the user/group, project/domain and role that exist, plus the URL's ids. */
async function policyTarget(ctx: IdentityContext, request: FastifyRequest<{ Params: GrantParams }>, spec: GrantSpec) {
  const found = await grants.findGrantEntities(ctx, spec, request.params.role_id);
  const target: Record<string, unknown> = {};
  if (spec.actor.kind === 'user') target.user = found.user ?? {};
  else target.group = found.group ?? {};
  if (spec.target.kind === 'project') target.project = found.project ?? {};
  if (spec.target.kind === 'domain') target.domain = found.domain ?? {};
  if (request.params.role_id) target.role = found.role ? { ...found.role, domain_id: found.role.domain_id || null } : {};
  return { ...request.params, target };
}

/** The grant API: PUT/GET/HEAD/DELETE …/roles/{role_id} and GET …/roles for every actor and target. */
export function registerGrantRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  for (const url of grantUrls) {
    const member = `${url.base}/:role_id${url.suffix}`;

    app.put<{ Params: GrantParams }>(member, async (request, reply) => {
      const spec = specOf(url, request.params);
      authorize(request, ctx, actionOf(url, 'create'), await policyTarget(ctx, request, spec));
      await grants.createGrant(ctx, spec, request.params.role_id!);
      return reply.code(204).send();
    });

    app.route<{ Params: GrantParams }>({
      method: ['GET', 'HEAD'],
      url: member,
      exposeHeadRoute: false,
      handler: async (request, reply) => {
        const spec = specOf(url, request.params);
        authorize(request, ctx, actionOf(url, 'check'), await policyTarget(ctx, request, spec));
        await grants.checkGrant(ctx, spec, request.params.role_id!);
        return reply.code(204).send();
      },
    });

    app.delete<{ Params: GrantParams }>(member, async (request, reply) => {
      const spec = specOf(url, request.params);
      authorize(request, ctx, actionOf(url, 'revoke'), await policyTarget(ctx, request, spec));
      await grants.deleteGrant(ctx, spec, request.params.role_id!);
      return reply.code(204).send();
    });

    if (url.listable) {
      app.get<{ Params: GrantParams }>(`${url.base}${url.suffix}`, async (request) => {
        const spec = specOf(url, request.params);
        authorize(request, ctx, actionOf(url, 'list'), await policyTarget(ctx, request, spec));
        const roles = await grants.listGrants(ctx, spec);
        return { roles: roles.map((r) => roleView(request, r)), links: collectionLinks(request) };
      });
    }
  }
}

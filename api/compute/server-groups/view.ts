import type { FastifyRequest } from 'fastify';
import type { ServerGroup } from './service.ts';

/** From 2.64 a group has one `policy` and its `rules`, where before it had a `policies` list and (empty) `metadata`. */
export const GROUP_POLICY_MICROVERSION = '2.64';

/** Nova's server group body: project_id and user_id from 2.13. */
export function serverGroupView(request: FastifyRequest, g: ServerGroup) {
  const v = request.microversion;
  return {
    id: g.uuid,
    name: g.name,
    ...(v.atLeast(GROUP_POLICY_MICROVERSION) ? { policy: g.policy, rules: g.rules } : { policies: [g.policy], metadata: {} }),
    members: g.members,
    ...(v.atLeast('2.13') ? { project_id: g.project_id, user_id: g.user_id } : {}),
  };
}

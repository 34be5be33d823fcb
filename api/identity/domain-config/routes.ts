import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/identity.d.ts';
import { authorize } from '../../http/auth.ts';
import type { IdentityContext } from '../context.ts';
import { getSecurityComplianceConfig, SECURITY_COMPLIANCE } from './security-compliance.ts';
import * as domainConfig from './service.ts';
import type { ConfigPath } from './service.ts';

type DomainConfigRequest = components['schemas']['DomainConfigRequest'];
type ConfigParams = { domain_id: string; group?: string; option?: string };

const pathOf = (params: ConfigParams): ConfigPath => ({ group: params.group, option: params.option });

/**
 * Domain-specific configuration: /v3/domains/{domain_id}/config[/{group}[/{option}]]
 * and the defaults at /v3/domains/config[/{group}[/{option}]]/default.
 * Keystone checks each rule before reading the body.
 */
export function registerDomainConfigRoutes(app: FastifyInstance, ctx: IdentityContext): void {
  const paths = ['/v3/domains/:domain_id/config', '/v3/domains/:domain_id/config/:group', '/v3/domains/:domain_id/config/:group/:option'];

  app.put<{ Params: ConfigParams; Body: DomainConfigRequest }>(paths[0], async (request, reply) => {
    authorize(request, ctx, 'identity:create_domain_config', { ...request.params });
    ctx.validate('DomainConfigRequest', request.body);
    const { config, replaced } = await domainConfig.createConfig(ctx, request.params.domain_id, request.body.config);
    return reply.code(replaced ? 200 : 201).send({ config });
  });

  for (const path of paths) {
    app.get<{ Params: ConfigParams }>(path, async (request) => {
      const { domain_id, group, option } = request.params;
      if (group === SECURITY_COMPLIANCE) {
        authorize(request, ctx, 'identity:get_security_compliance_domain_config', { ...request.params });
        return { config: getSecurityComplianceConfig(domain_id, option) };
      }
      authorize(request, ctx, 'identity:get_domain_config', { ...request.params });
      return { config: await domainConfig.getConfig(ctx, domain_id, pathOf(request.params)) };
    });

    app.patch<{ Params: ConfigParams; Body: DomainConfigRequest }>(path, async (request) => {
      authorize(request, ctx, 'identity:update_domain_config', { ...request.params });
      ctx.validate('DomainConfigRequest', request.body);
      return { config: await domainConfig.updateConfig(ctx, request.params.domain_id, request.body.config, pathOf(request.params)) };
    });

    app.delete<{ Params: ConfigParams }>(path, async (request, reply) => {
      authorize(request, ctx, 'identity:delete_domain_config', { ...request.params });
      await domainConfig.deleteConfig(ctx, request.params.domain_id, pathOf(request.params));
      return reply.code(204).send();
    });
  }

  const showDefault = async (request: FastifyRequest<{ Params: { group?: string; option?: string } }>) => {
    authorize(request, ctx, 'identity:get_domain_config_default');
    return { config: domainConfig.getConfigDefault({ group: request.params.group, option: request.params.option }) };
  };
  app.get('/v3/domains/config/default', showDefault);
  app.get('/v3/domains/config/:group/default', showDefault);
  app.get('/v3/domains/config/:group/:option/default', showDefault);
}

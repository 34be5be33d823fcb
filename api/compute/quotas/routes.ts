import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { components } from '../../../spec/compute.d.ts';
import { callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { lastValue, queryOf, rejectUnknownQuery } from '../query.ts';
import { INJECTED_FILE_QUOTAS, NETWORK_QUOTAS, QUOTA_RESOURCES, type QuotaResource } from './resources.ts';
import * as quotas from './service.ts';

type ProjectParams = { project_id: string };
type ClassParams = { class_name: string };
type QuotaSetUpdate = components['schemas']['QuotaSetUpdateRequest'];
type QuotaClassSetUpdate = components['schemas']['QuotaClassSetUpdateRequest'];

/** The quota set resources a microversion shows: nova-network's go at 2.36, personality files' at 2.57. */
function quotaSetResources(request: FastifyRequest): QuotaResource[] {
  const v = request.microversion;
  const hidden = [...(v.atLeast('2.36') ? NETWORK_QUOTAS : []), ...(v.atLeast('2.57') ? INJECTED_FILE_QUOTAS : [])];
  return QUOTA_RESOURCES.filter((r) => !hidden.includes(r));
}

/** Quota classes hid server groups before 2.50, which also dropped nova-network's; 2.57 drops personality files. */
function quotaClassResources(request: FastifyRequest): QuotaResource[] {
  const v = request.microversion;
  const hidden: QuotaResource[] = v.atLeast('2.50') ? [...NETWORK_QUOTAS] : ['server_groups', 'server_group_members'];
  if (v.atLeast('2.57')) hidden.push(...INJECTED_FILE_QUOTAS);
  return QUOTA_RESOURCES.filter((r) => !hidden.includes(r));
}

/** `{id?, <resource>: value…}` for the resources shown. */
function quotaBody<T>(id: string | undefined, values: Record<QuotaResource, T>, shown: QuotaResource[]) {
  const body: Record<string, T | string> = id === undefined ? {} : { id };
  for (const r of shown) body[r] = values[r];
  return body;
}

/** user_id, as Nova's quota-set calls read it (?user_id=…). */
function userIdOf(request: FastifyRequest): string | undefined {
  rejectUnknownQuery(request, ['user_id']);
  return lastValue(queryOf(request), 'user_id') || undefined;
}

/** The update schema of each microversion range. */
function quotaSetSchema(request: FastifyRequest): string {
  if (request.microversion.atLeast('2.57')) return 'QuotaSetUpdateRequestV257';
  if (request.microversion.atLeast('2.36')) return 'QuotaSetUpdateRequestV236';
  return 'QuotaSetUpdateRequest';
}

function quotaClassSchema(request: FastifyRequest): string {
  if (request.microversion.atLeast('2.57')) return 'QuotaClassSetUpdateRequestV257';
  if (request.microversion.atLeast('2.50')) return 'QuotaClassSetUpdateRequestV250';
  return 'QuotaClassSetUpdateRequest';
}

/** os-quota-sets (per project, optionally per user) and os-quota-class-sets. */
export function registerQuotaRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.get<{ Params: ProjectParams }>('/os-quota-sets/:project_id', async (request) => {
    const caller = callerOf(request, ctx);
    const { project_id } = request.params;
    const values = await quotas.showQuotas(ctx, caller, project_id, userIdOf(request));
    return { quota_set: quotaBody(project_id, values, quotaSetResources(request)) };
  });

  app.get<{ Params: ProjectParams }>('/os-quota-sets/:project_id/detail', async (request) => {
    const caller = callerOf(request, ctx);
    const { project_id } = request.params;
    const details = await quotas.showQuotaDetails(ctx, caller, project_id, userIdOf(request));
    return { quota_set: quotaBody(project_id, details, quotaSetResources(request)) };
  });

  app.get<{ Params: ProjectParams }>('/os-quota-sets/:project_id/defaults', async (request) => {
    const caller = callerOf(request, ctx);
    const { project_id } = request.params;
    const values = await quotas.showDefaultQuotas(ctx, caller, project_id);
    return { quota_set: quotaBody(project_id, values, quotaSetResources(request)) };
  });

  // The updated set comes back without its id, as Nova's.
  app.put<{ Params: ProjectParams }>('/os-quota-sets/:project_id', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate(quotaSetSchema(request), request.body);
    const { quota_set } = request.body as QuotaSetUpdate;
    const values = await quotas.updateQuotas(ctx, caller, request.params.project_id, userIdOf(request), quota_set);
    return { quota_set: quotaBody(undefined, values, quotaSetResources(request)) };
  });

  app.delete<{ Params: ProjectParams }>('/os-quota-sets/:project_id', async (request, reply) => {
    const caller = callerOf(request, ctx);
    await quotas.deleteQuotas(ctx, caller, request.params.project_id, userIdOf(request));
    return reply.code(202).send();
  });

  app.get<{ Params: ClassParams }>('/os-quota-class-sets/:class_name', async (request) => {
    const { class_name } = request.params;
    const values = await quotas.showQuotaClass(ctx, callerOf(request, ctx), class_name);
    return { quota_class_set: quotaBody(class_name, values, quotaClassResources(request)) };
  });

  app.put<{ Params: ClassParams }>('/os-quota-class-sets/:class_name', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate(quotaClassSchema(request), request.body);
    const { quota_class_set } = request.body as QuotaClassSetUpdate;
    const values = await quotas.updateQuotaClass(ctx, caller, request.params.class_name, quota_class_set as Record<string, number | string>);
    return { quota_class_set: quotaBody(undefined, values, quotaClassResources(request)) };
  });
}

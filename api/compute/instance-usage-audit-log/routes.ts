import type { FastifyInstance } from 'fastify';
import { callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { auditReport } from './service.ts';

/** os-instance_usage_audit_log (admins): the instance usage audit of the last completed period, now or before a time. */
export function registerInstanceUsageAuditLogRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/os-instance_usage_audit_log', async (request) => ({ instance_usage_audit_logs: await auditReport(ctx, callerOf(request, ctx)) }));

  app.get<{ Params: { before: string } }>('/os-instance_usage_audit_log/:before', async (request) => ({
    instance_usage_audit_log: await auditReport(ctx, callerOf(request, ctx), request.params.before),
  }));
}

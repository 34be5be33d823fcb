import { novaTime } from '../keypairs/view.ts';
import type { ServerUsage, TenantUsage } from './service.ts';

const serverUsageView = (s: ServerUsage) => ({
  ...s,
  started_at: novaTime(s.started_at),
  ended_at: s.ended_at ? novaTime(s.ended_at) : null,
});

/** A project's usage with Nova's times (ISO 8601, microseconds, no zone). */
export function tenantUsageView(u: TenantUsage) {
  return {
    ...u,
    ...(u.server_usages ? { server_usages: u.server_usages.map(serverUsageView) } : {}),
    start: novaTime(u.start),
    stop: novaTime(u.stop),
  };
}

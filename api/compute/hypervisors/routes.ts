import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '../../../lib/errors.ts';
import { callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { collectionLinks, lastValue, pageOf, parseBool, queryOf } from '../query.ts';
import { versionNotFound } from '../services/state.ts';
import * as hypervisors from './service.ts';
import { hypervisorView, NO_FIGURES_MICROVERSION, UUID_IDS_MICROVERSION } from './view.ts';

type IdParams = { id: string };

/** From 2.53 the list and show query schemas refuse parameters they do not name (additionalProperties: false). */
function onlyKnownQuery(request: FastifyRequest, allowed: readonly string[]): void {
  const unknown = Object.keys(queryOf(request)).filter((k) => !allowed.includes(k));
  if (unknown.length) {
    throw badRequest(`Invalid input for query parameters ${unknown[0]}. Additional properties are not allowed ('${unknown.join("', '")}' ${unknown.length > 1 ? 'were' : 'was'} unexpected)`);
  }
}

/** with_servers (2.53 on): a boolean as oslo reads one, else a 400. */
function withServersOf(request: FastifyRequest): boolean {
  const raw = lastValue(queryOf(request), 'with_servers');
  if (raw === undefined) return false;
  const value = parseBool(raw);
  if (value === undefined) throw badRequest(`Invalid input for query parameters with_servers. Value: ${raw}. '${raw}' is not a valid boolean.`);
  return value;
}

/** hypervisor_hostname_pattern (2.53 on): Nova's fqdn format. */
function patternOf(request: FastifyRequest): string | undefined {
  const raw = lastValue(queryOf(request), 'hypervisor_hostname_pattern');
  if (raw !== undefined && !/^[a-zA-Z0-9._-]{1,255}$/.test(raw)) {
    throw badRequest(`Invalid input for query parameters hypervisor_hostname_pattern. Value: ${raw}. '${raw}' does not match '^[a-zA-Z0-9-._]*$'`);
  }
  return raw;
}

/** os-hypervisors: the compute nodes, their figures and the servers on them (admin). */
export function registerHypervisorRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  const maxLimit = () => ctx.config['compute.max_limit'];
  const uuidIds = (request: FastifyRequest) => request.microversion.atLeast(UUID_IDS_MICROVERSION);
  const beforeFiguresRemoved = (request: FastifyRequest) => {
    if (request.microversion.atLeast(NO_FIGURES_MICROVERSION)) throw versionNotFound();
  };

  /** index and detail: paged from 2.33; from 2.53 also a hostname pattern (not paged) and with_servers. */
  const list = (detail: boolean) => async (request: FastifyRequest) => {
    const caller = callerOf(request, ctx);
    const v = request.microversion;
    const opts: hypervisors.ListOptions = { detail };
    const paged = v.atLeast('2.33');
    if (v.atLeast(UUID_IDS_MICROVERSION)) {
      onlyKnownQuery(request, ['limit', 'marker', 'hypervisor_hostname_pattern', 'with_servers']);
      opts.pattern = patternOf(request);
      opts.withServers = withServersOf(request);
    }
    const q = queryOf(request);
    if (opts.pattern !== undefined) {
      if (q.limit !== undefined || q.marker !== undefined) {
        throw badRequest('Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.');
      }
    } else if (paged) {
      Object.assign(opts, pageOf(request, maxLimit()));
    }
    let rows = await hypervisors.listHypervisors(ctx, caller, opts);
    if (detail && request.microversion.atLeast(NO_FIGURES_MICROVERSION)) rows = await hypervisors.withUptimes(ctx, rows);
    const views = rows.map((h) => hypervisorView(request, h, { detail, withServers: opts.withServers }));
    const body: Record<string, unknown> = { hypervisors: views };
    if (paged && opts.pattern === undefined) {
      const links = collectionLinks(request, detail ? 'os-hypervisors/detail' : 'os-hypervisors', views.length, views.length ? String(views.at(-1)!.id) : undefined, maxLimit());
      if (links.length) body.hypervisors_links = links;
    }
    return body;
  };

  app.get('/os-hypervisors', list(false));
  app.get('/os-hypervisors/detail', list(true));

  app.get('/os-hypervisors/statistics', async (request) => {
    beforeFiguresRemoved(request);
    return { hypervisor_statistics: await hypervisors.hypervisorStatistics(ctx, callerOf(request, ctx)) };
  });

  app.get<{ Params: IdParams }>('/os-hypervisors/:id', async (request) => {
    const caller = callerOf(request, ctx);
    let withServers = false;
    if (uuidIds(request)) {
      onlyKnownQuery(request, ['with_servers']);
      withServers = withServersOf(request);
    }
    let h = await hypervisors.showHypervisor(ctx, caller, request.params.id, uuidIds(request), withServers);
    if (request.microversion.atLeast(NO_FIGURES_MICROVERSION)) [h] = await hypervisors.withUptimes(ctx, [h]);
    return { hypervisor: hypervisorView(request, h, { detail: true, withServers }) };
  });

  app.get<{ Params: IdParams }>('/os-hypervisors/:id/uptime', async (request) => {
    beforeFiguresRemoved(request);
    const h = await hypervisors.hypervisorUptime(ctx, callerOf(request, ctx), request.params.id, uuidIds(request));
    return { hypervisor: { ...hypervisorView(request, h, { detail: false }), uptime: h.uptime } };
  });

  // Before 2.53: search by hostname pattern on the path, with or without the servers.
  for (const [suffix, withServers] of [['search', false], ['servers', true]] as const) {
    app.get<{ Params: IdParams }>(`/os-hypervisors/:id/${suffix}`, async (request) => {
      if (uuidIds(request)) throw versionNotFound();
      const rows = await hypervisors.searchHypervisors(ctx, callerOf(request, ctx), request.params.id, withServers);
      return { hypervisors: rows.map((h) => hypervisorView(request, h, { detail: false })) };
    });
  }
}

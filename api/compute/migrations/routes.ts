/**
 * GET /os-migrations (admins: every migration, newest first, with Nova's
 * filters, paged from 2.59) and GET /servers/{id}/migrations (2.23+: the
 * server's live migrations in progress, which Nubo never has: []).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '../../../lib/errors.ts';
import { getMigration, listMigrations, type MigrationRow } from '../../../scheduler/conductor/migration-store.ts';
import { authorizeCompute, callerOf } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { novaTime } from '../keypairs/view.ts';
import { collectionLinks, lastValue, pageOf, queryOf } from '../query.ts';
import { findServer } from '../servers/access.ts';
import { versionNotFound } from '../services/state.ts';

/** The flavors' internal ids (Nova's old/new_instance_type_id), by flavorid. */
async function flavorIds(ctx: ComputeContext, rows: MigrationRow[]): Promise<Map<string, number>> {
  const ids = [...new Set(rows.flatMap((m) => [String(m.old_flavor.flavorid ?? ''), String(m.new_flavor.flavorid ?? '')]))];
  const found: { id: number; flavorid: string }[] = ids.length ? await ctx.db('flavors').whereIn('flavorid', ids).select('id', 'flavorid') : [];
  return new Map(found.map((f) => [f.flavorid, f.id]));
}

/** Nova's migration view (nova/api/openstack/compute/migrations.py _output). */
function migrationView(request: FastifyRequest, m: MigrationRow, flavors: Map<string, number>): Record<string, unknown> {
  const v = request.microversion;
  const out: Record<string, unknown> = {
    id: Number(m.id),
    created_at: novaTime(new Date(m.created_at)),
    updated_at: novaTime(new Date(m.updated_at)),
    dest_compute: m.dest_compute,
    dest_host: null,
    dest_node: m.dest_node,
    instance_uuid: m.instance_uuid,
    new_instance_type_id: flavors.get(String(m.new_flavor.flavorid)) ?? null,
    old_instance_type_id: flavors.get(String(m.old_flavor.flavorid)) ?? null,
    source_compute: m.source_compute,
    source_node: m.source_node,
    source_region: null,
    status: m.status,
  };
  if (v.atLeast('2.23')) out.migration_type = m.migration_type;
  if (v.atLeast('2.59')) out.uuid = m.uuid;
  if (v.atLeast('2.80')) Object.assign(out, { user_id: m.user_id, project_id: m.project_id });
  return out;
}

export function registerMigrationRoutes(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/os-migrations', async (request) => {
    const caller = callerOf(request, ctx);
    authorizeCompute(ctx, caller, 'os_compute_api:os-migrations:index', {});
    const q = queryOf(request);
    const v = request.microversion;
    const paged = v.atLeast('2.59');
    const page = paged ? pageOf(request, ctx.config['compute.max_limit']) : undefined;
    let beforeId: number | undefined;
    if (page?.marker !== undefined) {
      const marker = await getMigration(ctx.db, page.marker).catch(() => undefined);
      if (!marker) throw badRequest(`Marker ${page.marker} could not be found.`);
      beforeId = Number(marker.id);
    }
    const host = lastValue(q, 'host') ?? lastValue(q, 'source_compute');
    const rows = await listMigrations(ctx.db, {
      instanceUuid: lastValue(q, 'instance_uuid'),
      status: lastValue(q, 'status'),
      migrationType: v.atLeast('2.23') ? lastValue(q, 'migration_type') : undefined,
      host,
      projectId: v.atLeast('2.80') ? lastValue(q, 'project_id') : undefined,
      beforeId,
      limit: page?.limit,
    });
    const flavors = await flavorIds(ctx, rows);
    const body: Record<string, unknown> = { migrations: rows.map((m) => migrationView(request, m, flavors)) };
    if (paged) {
      const links = collectionLinks(request, 'os-migrations', rows.length, rows.at(-1)?.uuid, page!.limit);
      if (links.length) body.migrations_links = links;
    }
    return body;
  });

  app.get<{ Params: { server_id: string } }>('/servers/:server_id/migrations', async (request) => {
    if (!request.microversion.atLeast('2.23')) throw versionNotFound();
    const caller = callerOf(request, ctx);
    const row = await findServer(ctx, caller, request.params.server_id);
    authorizeCompute(ctx, caller, 'os_compute_api:servers:migrations:index', { project_id: row.project_id });
    return { migrations: [] };
  });
}

import type { Db } from '../../../lib/db/index.ts';

/** One endpoint of a catalog entry, as a token body shows it. */
export interface CatalogEndpoint {
  id: string;
  interface: string;
  region: string | null;
  region_id: string | null;
  url: string;
}

/** One service of the catalog with its endpoints, as a token body shows it. */
export interface CatalogService {
  id: string;
  type: string;
  name: string;
  endpoints: CatalogEndpoint[];
}

/**
 * The service catalog as Keystone puts it in tokens: every enabled service
 * (name '' when it has none) with its enabled endpoints. URLs are returned as
 * stored, `$(project_id)s`-style placeholders included.
 */
export async function listCatalog(db: Db): Promise<CatalogService[]> {
  const services: { id: string; type: string; name: string | null }[] = await db('services')
    .where({ enabled: true })
    .select('id', 'type', 'name')
    .orderBy(['type', 'id']);
  if (services.length === 0) return [];
  const endpoints: { id: string; service_id: string; interface: string; region_id: string | null; url: string }[] = await db('endpoints')
    .whereIn('service_id', services.map((s) => s.id))
    .andWhere({ enabled: true })
    .select('id', 'service_id', 'interface', 'region_id', 'url')
    .orderBy(['interface', 'region_id', 'id']);
  const byService = new Map<string, CatalogEndpoint[]>();
  for (const e of endpoints) {
    const list = byService.get(e.service_id) ?? [];
    list.push({ id: e.id, interface: e.interface, region: e.region_id, region_id: e.region_id, url: e.url });
    byService.set(e.service_id, list);
  }
  return services.map((s) => ({ id: s.id, type: s.type, name: s.name ?? '', endpoints: byService.get(s.id) ?? [] }));
}

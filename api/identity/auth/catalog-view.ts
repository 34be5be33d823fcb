/** A catalog entry as listCatalog gives it (and as tokens show it). */
export interface CatalogEntry {
  id: string;
  type: string;
  name: string | null;
  endpoints: { id: string; interface: string; region: string | null; region_id: string | null; url: string }[];
}

const PLACEHOLDER = /%%|[$%]\((\w+)\)s/g;

/**
 * The catalog for one token, as Keystone's format_url does it: $(project_id)s,
 * $(tenant_id)s and $(user_id)s (or %(…)s) in endpoint URLs become the
 * token's ids and %% becomes %; an endpoint needing a value the token lacks
 * is left out.
 */
export function catalogForToken(catalog: readonly CatalogEntry[], ids: { user_id: string; project_id?: string }): CatalogEntry[] {
  const values = new Map<string, string | undefined>([
    ['user_id', ids.user_id],
    ['project_id', ids.project_id],
    ['tenant_id', ids.project_id],
  ]);
  return catalog.map((service) => ({
    ...service,
    endpoints: service.endpoints.flatMap((e) => {
      if (!e.url.includes('%') && !e.url.includes('$(')) return [e];
      let missing = false;
      const url = e.url.replace(PLACEHOLDER, (match, key: string | undefined) => {
        if (match === '%%') return '%';
        const v = values.get(key!);
        if (v === undefined) missing = true;
        return v ?? '';
      });
      return missing ? [] : [{ ...e, url }];
    }),
  }));
}

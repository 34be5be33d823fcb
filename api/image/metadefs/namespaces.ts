import type { Knex } from 'knex';
import type { components } from '../../../spec/image.d.ts';
import type { Db } from '../../../lib/db/index.ts';
import { conflict } from '../../../lib/errors.ts';
import type { ImageContext } from '../context.ts';
import type { ImageCaller } from '../images/access.ts';
import { allowsMetadef, assertUnprotected, checkBody, enforceMetadef, findNamespace, LINKED_READ_ONLY, namespaceNotFound, unlessTaken } from './access.ts';
import { namespaceFor, objectFields, propertyDefinitions, saveContent } from './content.ts';
import type { NamespaceListParams } from './list-query.ts';
import * as store from './store.ts';
import type { AssociationRow, NamespaceFields, NamespaceRow } from './store.ts';
import { associationView, compact, namespaceView, objectView, propertyMap } from './view.ts';

type NamespaceBody = components['schemas']['MetadefNamespace'];
type Json = Record<string, unknown>;

/** The columns a create or update body sets: what is left out takes its default (the owner: the caller's project). */
function namespaceFields(caller: ImageCaller, body: NamespaceBody): NamespaceFields {
  return {
    namespace: body.namespace,
    display_name: body.display_name ?? null,
    description: body.description ?? null,
    visibility: body.visibility ?? 'private',
    protected: body.protected ?? false,
    owner: body.owner ?? caller.projectId,
  };
}

const duplicateNamespace = (name: string) => conflict(`The metadata definition namespace=${name} already exists.`);

const duplicateAssociation = (type: string, ns: string) =>
  conflict(`The metadata definition resource-type association of resource-type=${type} to namespace=${ns} already exists.`);

/** Adds an association, a 409 when the namespace already has it. */
export function addAssociation(conn: Db | Knex.Transaction, ns: NamespaceRow, fields: store.AssociationFields): Promise<AssociationRow> {
  return unlessTaken(store.insertAssociation(conn, ns.id, fields), () => duplicateAssociation(fields.name, ns.namespace));
}

const pick = (o: Json, keys: string[]) => compact(Object.fromEntries(keys.map((k) => [k, o[k]])));

/**
 * Creates a namespace and, in the same transaction, the associations,
 * objects, tags and properties the body holds. Shows them as given, as
 * Glance does.
 */
export async function createNamespace(ctx: ImageContext, caller: ImageCaller, raw: unknown): Promise<Json> {
  const body = checkBody<NamespaceBody>(ctx, 'MetadefNamespace', raw, LINKED_READ_ONLY);
  enforceMetadef(ctx, caller, 'add_metadef_namespace');
  const associations = body.resource_type_associations ?? [];
  const objects = (body.objects ?? []) as Json[];
  const tags = body.tags ?? [];
  const properties = propertyDefinitions(body.properties as Record<string, Json> | undefined);
  if (associations.length) enforceMetadef(ctx, caller, 'add_metadef_resource_type_association');
  if (objects.length) enforceMetadef(ctx, caller, 'add_metadef_object');
  if (Object.keys(properties).length) enforceMetadef(ctx, caller, 'add_metadef_property');
  if (tags.length) enforceMetadef(ctx, caller, 'add_metadef_tag');
  const ns = await ctx.db.transaction(async (trx) => {
    const created = await unlessTaken(store.insertNamespace(trx, namespaceFields(caller, body)), () => duplicateNamespace(body.namespace));
    for (const a of associations) await addAssociation(trx, created, a);
    for (const o of objects) await saveContent(trx, 'metadef_objects', created, objectFields(o as Parameters<typeof objectFields>[0]));
    for (const t of tags) await saveContent(trx, 'metadef_tags', created, { name: t.name });
    for (const [name, schema] of Object.entries(properties)) await saveContent(trx, 'metadef_properties', created, { name, schema });
    return created;
  });
  const given = (key: keyof NamespaceBody) => body[key] !== undefined;
  return {
    ...namespaceView(ns),
    ...(given('resource_type_associations') ? { resource_type_associations: associations.map((a) => pick(a, ['name', 'prefix', 'properties_target'])) } : {}),
    ...(given('objects') ? { objects: objects.map((o) => pick(o, ['name', 'description', 'required', 'properties'])) } : {}),
    ...(given('tags') ? { tags: tags.map((t) => ({ name: t.name })) } : {}),
    ...(given('properties') ? { properties } : {}),
  };
}

/** The associations of each namespace, keyed by namespace id. */
async function associationsOf(ctx: ImageContext, ids: number[]): Promise<Map<number, Json[]>> {
  const byNamespace = new Map<number, Json[]>();
  for (const a of await store.listAssociations(ctx.db, ids)) {
    const list = byNamespace.get(a.namespace_id) ?? [];
    list.push(associationView(a));
    byNamespace.set(a.namespace_id, list);
  }
  return byNamespace;
}

/** One page of the namespaces the caller may see, each with its resource type associations; `more` when a next page exists. */
export async function listNamespaces(ctx: ImageContext, caller: ImageCaller, q: NamespaceListParams): Promise<{ namespaces: Json[]; more: boolean; last?: string }> {
  enforceMetadef(ctx, caller, 'get_metadef_namespaces');
  enforceMetadef(ctx, caller, 'list_metadef_resource_types');
  const marker = q.marker === undefined ? undefined : await findNamespace(ctx.db, caller, q.marker);
  const rows = await store.listNamespaces(ctx.db, { ...q, marker }, caller);
  const page = rows.slice(0, q.limit);
  const visible = page.filter((ns) => allowsMetadef(ctx, caller, 'get_metadef_namespace', ns));
  const associations = await associationsOf(ctx, visible.map((ns) => ns.id));
  return {
    namespaces: visible.map((ns) => {
      const list = associations.get(ns.id);
      return list ? { ...namespaceView(ns), resource_type_associations: list } : namespaceView(ns);
    }),
    more: rows.length > q.limit,
    last: page.at(-1)?.namespace,
  };
}

/** Prefixes property names (and objects' property names and required lists) for a resource type, as Glance's show does. */
function prefixed(view: Json, prefix: string): Json {
  const rename = (props: Json) => Object.fromEntries(Object.entries(props).map(([k, v]) => [prefix + k, v]));
  const out = { ...view };
  if (out.properties) out.properties = rename(out.properties as Json);
  if (out.objects) {
    out.objects = (out.objects as Json[]).map((o) => ({
      ...o,
      properties: rename(o.properties as Json),
      required: (o.required as string[]).map((r) => prefix + r),
    }));
  }
  return out;
}

/** A namespace with its objects, resource type associations, properties and tags (each shown only when there are some). */
export async function showNamespace(ctx: ImageContext, caller: ImageCaller, name: string, resourceType?: string): Promise<Json> {
  const ns = await namespaceFor(ctx.db, ctx, caller, name, 'get_metadef_namespace');
  for (const rule of ['list_metadef_resource_types', 'get_metadef_objects', 'get_metadef_properties', 'get_metadef_tags']) {
    enforceMetadef(ctx, caller, rule, ns);
  }
  const [objects, associations, properties, tags] = await Promise.all([
    store.listContent(ctx.db, 'metadef_objects', ns.id),
    store.listAssociations(ctx.db, [ns.id]),
    store.listContent(ctx.db, 'metadef_properties', ns.id),
    store.listContent(ctx.db, 'metadef_tags', ns.id),
  ]);
  const view: Json = {
    ...namespaceView(ns),
    ...(objects.length ? { objects: objects.map((o) => objectView(ns.namespace, o)) } : {}),
    ...(associations.length ? { resource_type_associations: associations.map(associationView) } : {}),
    ...(properties.length ? { properties: propertyMap(properties) } : {}),
    ...(tags.length ? { tags: tags.map((t) => ({ name: t.name })) } : {}),
  };
  const prefix = resourceType ? associations.find((a) => a.name === resourceType)?.prefix : undefined;
  return prefix ? prefixed(view, prefix) : view;
}

/** Replaces a namespace's attributes (its content is untouched); it may be renamed. */
export async function updateNamespace(ctx: ImageContext, caller: ImageCaller, name: string, raw: unknown): Promise<Json> {
  const body = checkBody<NamespaceBody>(ctx, 'MetadefNamespace', raw, LINKED_READ_ONLY);
  const ns = await namespaceFor(ctx.db, ctx, caller, name, 'modify_metadef_namespace');
  const updated = await unlessTaken(store.updateNamespace(ctx.db, ns.id, namespaceFields(caller, body)), () =>
    conflict(`Invalid update. It would result in a duplicate metadata definition namespace with the same name of ${body.namespace}`),
  );
  if (!updated) throw namespaceNotFound(name);
  return namespaceView(updated);
}

/** Deletes a namespace and all it holds; refused (403) while it is protected. */
export async function deleteNamespace(ctx: ImageContext, caller: ImageCaller, name: string): Promise<void> {
  await ctx.db.transaction(async (trx) => {
    const ns = await namespaceFor(trx, ctx, caller, name, 'delete_metadef_namespace', true);
    assertUnprotected(ns, `namespace ${ns.namespace}`);
    await store.deleteNamespace(trx, ns.id);
  });
}

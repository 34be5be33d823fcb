import type { Knex } from 'knex';
import type { components } from '../../../spec/image.d.ts';
import type { Db } from '../../../lib/db/index.ts';
import { conflict, notFound } from '../../../lib/errors.ts';
import type { ImageContext } from '../context.ts';
import type { ImageCaller } from '../images/access.ts';
import { allowsMetadef, assertUnprotected, checkBody, enforceMetadef, findNamespace, LINKED_READ_ONLY, TIMESTAMPS_READ_ONLY, unlessTaken } from './access.ts';
import { parseTagListQuery } from './list-query.ts';
import * as store from './store.ts';
import type { ContentFields, ContentTable, ContentTables, NamespaceRow, PropertyDefinition, PropertyRow, TagRow } from './store.ts';
import { objectView, propertyMap, propertyView, tagView } from './view.ts';

type Conn = Db | Knex.Transaction;
type ObjectBody = components['schemas']['MetadefObject'];
type PropertyBody = components['schemas']['MetadefProperty'];
type TagBody = components['schemas']['MetadefTag'];
type TagListBody = components['schemas']['MetadefTagList'];
type Json = Record<string, unknown>;

/** Glance's name for each kind, in messages, and its messages. */
const KINDS: Record<ContentTable, { kind: string; missing: (name: string) => string; duplicate: (name: string, ns: string) => string }> = {
  metadef_objects: {
    kind: 'object',
    missing: (name) => `Could not find metadata object ${name}`,
    duplicate: (name, ns) => `A metadata definition object with name=${name} already exists in namespace=${ns}.`,
  },
  metadef_properties: {
    kind: 'property',
    missing: (name) => `Could not find property ${name}`,
    duplicate: (name, ns) => `A metadata definition property with name=${name} already exists in namespace=${ns}.`,
  },
  metadef_tags: {
    kind: 'tag',
    missing: (name) => `Could not find metadata tag ${name}`,
    duplicate: (name, ns) =>
      `A metadata tag with name=${name} already exists in namespace=${ns}. (Please note that metadata tag names are case insensitive).`,
  },
};

/** The namespace `name` if the caller sees it and `rule` allows the call (404/403 otherwise). */
export async function namespaceFor(conn: Conn, ctx: ImageContext, caller: ImageCaller, name: string, rule: string, lock = false): Promise<NamespaceRow> {
  const ns = await findNamespace(conn, caller, name, lock);
  enforceMetadef(ctx, caller, rule, ns);
  return ns;
}

async function findContent<T extends ContentTable>(conn: Conn, table: T, ns: NamespaceRow, name: string): Promise<ContentTables[T]> {
  const row = await store.getContent(conn, table, ns.id, name);
  if (!row) throw notFound(KINDS[table].missing(name));
  return row;
}

/** Inserts (no `id`) or updates a row; a name taken in the namespace is a 409. */
export async function saveContent<T extends ContentTable>(conn: Conn, table: T, ns: NamespaceRow, fields: ContentFields<T> & { name: string }, id?: number): Promise<ContentTables[T]> {
  const write = id === undefined ? store.insertContent(conn, table, ns.id, fields) : store.updateContent(conn, table, id, fields);
  const row = await unlessTaken(write, () => conflict(KINDS[table].duplicate(fields.name, ns.namespace)));
  if (!row) throw notFound(KINDS[table].missing(fields.name));
  return row;
}

/** Deletes one row, refused (403) while the namespace is protected. */
async function removeContent(ctx: ImageContext, caller: ImageCaller, table: ContentTable, namespace: string, name: string, rule: string): Promise<void> {
  await ctx.db.transaction(async (trx) => {
    const ns = await namespaceFor(trx, ctx, caller, namespace, rule, true);
    const row = await findContent(trx, table, ns, name);
    assertUnprotected(ns, `${KINDS[table].kind} ${name}`);
    await store.deleteContent(trx, table, ns.id, row.id);
  });
}

/** What Glance keeps of a property definition (its PropertyType's attributes), without the name. */
const PROPERTY_KEYS = [
  'type', 'title', 'description', 'operators', 'default', 'readonly', 'minimum', 'maximum', 'enum', 'pattern',
  'minLength', 'maxLength', 'confidential', 'items', 'uniqueItems', 'minItems', 'maxItems', 'additionalItems',
];

export function propertyDefinition(body: Json): PropertyDefinition {
  return Object.fromEntries(PROPERTY_KEYS.filter((k) => body[k] !== undefined).map((k) => [k, body[k]]));
}

export function propertyDefinitions(props: Record<string, Json> | undefined): Record<string, PropertyDefinition> {
  return Object.fromEntries(Object.entries(props ?? {}).map(([name, p]) => [name, propertyDefinition(p)]));
}

/** An object's columns from a create or update body; what is left out is cleared. */
export function objectFields(body: Omit<ObjectBody, 'properties'> & { properties?: Record<string, Json> }): ContentFields<'metadef_objects'> & { name: string } {
  return { name: body.name, description: body.description ?? null, required: body.required ?? [], properties: propertyDefinitions(body.properties) };
}

// ---- objects

export async function createObject(ctx: ImageContext, caller: ImageCaller, namespace: string, raw: unknown): Promise<Json> {
  const body = checkBody<ObjectBody>(ctx, 'MetadefObject', raw, LINKED_READ_ONLY);
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'add_metadef_object');
  return objectView(ns.namespace, await saveContent(ctx.db, 'metadef_objects', ns, objectFields(body)));
}

export async function listObjects(ctx: ImageContext, caller: ImageCaller, namespace: string): Promise<Json[]> {
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'get_metadef_objects');
  if (!allowsMetadef(ctx, caller, 'get_metadef_object', ns)) return [];
  return (await store.listContent(ctx.db, 'metadef_objects', ns.id)).map((o) => objectView(ns.namespace, o));
}

export async function showObject(ctx: ImageContext, caller: ImageCaller, namespace: string, name: string): Promise<Json> {
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'get_metadef_object');
  return objectView(ns.namespace, await findContent(ctx.db, 'metadef_objects', ns, name));
}

export async function updateObject(ctx: ImageContext, caller: ImageCaller, namespace: string, name: string, raw: unknown): Promise<Json> {
  const body = checkBody<ObjectBody>(ctx, 'MetadefObject', raw, LINKED_READ_ONLY);
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'modify_metadef_object');
  const row = await findContent(ctx.db, 'metadef_objects', ns, name);
  return objectView(ns.namespace, await saveContent(ctx.db, 'metadef_objects', ns, objectFields(body), row.id));
}

export const deleteObject = (ctx: ImageContext, caller: ImageCaller, namespace: string, name: string) =>
  removeContent(ctx, caller, 'metadef_objects', namespace, name, 'delete_metadef_object');

// ---- properties

const propertyFields = (body: PropertyBody) => ({ name: body.name, schema: propertyDefinition(body as unknown as Json) });

export async function createProperty(ctx: ImageContext, caller: ImageCaller, namespace: string, raw: unknown): Promise<Json> {
  const body = checkBody<PropertyBody>(ctx, 'MetadefProperty', raw, TIMESTAMPS_READ_ONLY);
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'add_metadef_property');
  return propertyView(await saveContent(ctx.db, 'metadef_properties', ns, propertyFields(body)));
}

export async function listProperties(ctx: ImageContext, caller: ImageCaller, namespace: string): Promise<Record<string, PropertyDefinition>> {
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'get_metadef_properties');
  return propertyMap(await store.listContent(ctx.db, 'metadef_properties', ns.id));
}

/**
 * A property; with `resourceType`, `name` carries that association's prefix
 * (a 404 when it does not), which is taken off to find the property.
 */
export async function showProperty(ctx: ImageContext, caller: ImageCaller, namespace: string, name: string, resourceType?: string): Promise<Json> {
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'get_metadef_property');
  let propertyName = name;
  if (resourceType) {
    enforceMetadef(ctx, caller, 'get_metadef_resource_type', ns);
    const association = await store.getAssociation(ctx.db, ns.id, resourceType);
    if (!association) {
      throw notFound(`The metadata definition resource-type association of resource-type=${resourceType} to namespace=${namespace}, was not found.`);
    }
    const prefix = association.prefix;
    if (!prefix || !name.startsWith(prefix)) {
      throw notFound(`Property ${name} does not start with the expected resource type association prefix of '${prefix ?? ''}'.`);
    }
    propertyName = name.slice(prefix.length);
  }
  return propertyView(await findContent(ctx.db, 'metadef_properties', ns, propertyName));
}

export async function updateProperty(ctx: ImageContext, caller: ImageCaller, namespace: string, name: string, raw: unknown): Promise<Json> {
  const body = checkBody<PropertyBody>(ctx, 'MetadefProperty', raw, TIMESTAMPS_READ_ONLY);
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'modify_metadef_property');
  const row: PropertyRow = await findContent(ctx.db, 'metadef_properties', ns, name);
  return propertyView(await saveContent(ctx.db, 'metadef_properties', ns, propertyFields(body), row.id));
}

export const deleteProperty = (ctx: ImageContext, caller: ImageCaller, namespace: string, name: string) =>
  removeContent(ctx, caller, 'metadef_properties', namespace, name, 'remove_metadef_property');

// ---- tags

export async function createTag(ctx: ImageContext, caller: ImageCaller, namespace: string, name: string): Promise<Json> {
  const ns = await findNamespace(ctx.db, caller, namespace);
  ctx.validate('MetadefTag', { name });
  enforceMetadef(ctx, caller, 'add_metadef_tag', ns);
  return tagView(await saveContent(ctx.db, 'metadef_tags', ns, { name }));
}

/** True for what oslo's bool_from_string reads as true. */
const truthy = (v: string | undefined) => ['1', 't', 'true', 'on', 'y', 'yes'].includes((v ?? '').trim().toLowerCase());

/**
 * Creates several tags at once: they replace the namespace's tags unless
 * `append` (X-Openstack-Append) is true; all or none are created.
 */
export async function createTags(ctx: ImageContext, caller: ImageCaller, namespace: string, raw: unknown, append: string | undefined): Promise<Json[]> {
  const body = checkBody<TagListBody>(ctx, 'MetadefTagList', raw, TIMESTAMPS_READ_ONLY);
  const names = (body.tags ?? []).map((t) => t.name);
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'add_metadef_tags');
  if (!names.length) return [];
  await ctx.db.transaction(async (trx) => {
    if (!truthy(append)) await store.deleteContent(trx, 'metadef_tags', ns.id);
    for (const name of names) await saveContent(trx, 'metadef_tags', ns, { name });
  });
  return names.map((name) => ({ name }));
}

export async function listTags(ctx: ImageContext, caller: ImageCaller, namespace: string, params: Record<string, string[]>): Promise<Json[]> {
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'get_metadef_tags');
  const { marker, ...query } = parseTagListQuery(params);
  const markerRow: TagRow | undefined = marker === undefined ? undefined : await findContent(ctx.db, 'metadef_tags', ns, marker);
  return (await store.listTags(ctx.db, ns.id, { ...query, marker: markerRow })).map((t) => ({ name: t.name }));
}

export async function showTag(ctx: ImageContext, caller: ImageCaller, namespace: string, name: string): Promise<Json> {
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'get_metadef_tag');
  return tagView(await findContent(ctx.db, 'metadef_tags', ns, name));
}

export async function updateTag(ctx: ImageContext, caller: ImageCaller, namespace: string, name: string, raw: unknown): Promise<Json> {
  const body = checkBody<TagBody>(ctx, 'MetadefTag', raw, TIMESTAMPS_READ_ONLY);
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'modify_metadef_tag');
  const row = await findContent(ctx.db, 'metadef_tags', ns, name);
  return tagView(await saveContent(ctx.db, 'metadef_tags', ns, { name: body.name }, row.id));
}

export const deleteTag = (ctx: ImageContext, caller: ImageCaller, namespace: string, name: string) =>
  removeContent(ctx, caller, 'metadef_tags', namespace, name, 'delete_metadef_tag');

// ---- all of a kind

/**
 * Deletes every object, property or tag of a namespace. Glance checks the
 * namespace's own delete rule (and delete_metadef_tags for tags), and
 * refuses while the namespace is protected.
 */
export async function deleteAllContent(ctx: ImageContext, caller: ImageCaller, namespace: string, table: ContentTable): Promise<void> {
  await ctx.db.transaction(async (trx) => {
    const ns = await namespaceFor(trx, ctx, caller, namespace, 'delete_metadef_namespace', true);
    if (table === 'metadef_tags') enforceMetadef(ctx, caller, 'delete_metadef_tags', ns);
    assertUnprotected(ns, `namespace ${ns.namespace}`);
    await store.deleteContent(trx, table, ns.id);
  });
}

import type { Knex } from 'knex';
import type { Db } from '../../../lib/db/index.ts';

type Conn = Db | Knex.Transaction;

/** A property definition as stored: a JSON schema fragment, without its name. */
export type PropertyDefinition = Record<string, unknown>;

export interface NamespaceRow {
  id: number;
  namespace: string;
  display_name: string | null;
  description: string | null;
  visibility: string;
  protected: boolean;
  owner: string | null;
  created_at: Date;
  updated_at: Date;
}

export type NamespaceFields = Pick<NamespaceRow, 'namespace' | 'display_name' | 'description' | 'visibility' | 'protected' | 'owner'>;

interface ContentRow {
  id: number;
  namespace_id: number;
  name: string;
  created_at: Date;
  updated_at: Date;
}

export interface ObjectRow extends ContentRow {
  description: string | null;
  required: string[];
  properties: Record<string, PropertyDefinition>;
}

export interface PropertyRow extends ContentRow {
  schema: PropertyDefinition;
}

export type TagRow = ContentRow;

/** The tables of things named uniquely within a namespace, and their rows. */
export interface ContentTables {
  metadef_objects: ObjectRow;
  metadef_properties: PropertyRow;
  metadef_tags: TagRow;
}
export type ContentTable = keyof ContentTables;
/** What a caller sets on a content row (jsonb columns as values; they are stored as JSON). */
export type ContentFields<T extends ContentTable> = Partial<Omit<ContentTables[T], 'id' | 'namespace_id' | 'created_at' | 'updated_at'>>;

export interface ResourceTypeRow {
  id: number;
  name: string;
  protected: boolean;
  created_at: Date;
  updated_at: Date;
}

/** A namespace's association with a resource type, named by the type. */
export interface AssociationRow {
  name: string;
  namespace_id: number;
  prefix: string | null;
  properties_target: string | null;
  created_at: Date;
  updated_at: Date;
}

const JSON_COLUMNS = ['required', 'properties', 'schema'];

/** Values for an insert or update: jsonb columns as JSON text (pg would send an array as a PostgreSQL array). */
function toDb(fields: Record<string, unknown>): Record<string, unknown> {
  const row: Record<string, unknown> = { ...fields };
  for (const k of JSON_COLUMNS) if (row[k] !== undefined) row[k] = JSON.stringify(row[k]);
  return row;
}

// ---- namespaces

export async function getNamespace(conn: Conn, name: string, lock = false): Promise<NamespaceRow | undefined> {
  const q = conn<NamespaceRow>('metadef_namespaces').where({ namespace: name });
  return lock ? q.forUpdate().first() : q.first();
}

export async function insertNamespace(conn: Conn, fields: NamespaceFields): Promise<NamespaceRow> {
  const [row] = await conn('metadef_namespaces').insert(fields).returning('*');
  return row as NamespaceRow;
}

/** The updated namespace; undefined when it is gone. */
export async function updateNamespace(conn: Conn, id: number, fields: NamespaceFields): Promise<NamespaceRow | undefined> {
  const [row] = await conn('metadef_namespaces').where({ id }).update({ ...fields, updated_at: conn.fn.now() }).returning('*');
  return row as NamespaceRow | undefined;
}

/** Deletes a namespace; its objects, properties, tags and associations go with it. */
export async function deleteNamespace(conn: Conn, id: number): Promise<void> {
  await conn('metadef_namespaces').where({ id }).delete();
}

/** Who lists: admins see every namespace, others public ones and their project's. */
export interface Lister {
  projectId: string | null;
  isAdmin: boolean;
}

export interface NamespaceListQuery {
  limit: number;
  marker?: NamespaceRow;
  sortKey: string;
  sortDir: 'asc' | 'desc';
  visibility?: string;
  resourceTypes?: string[];
}

/** The sort keys of a namespace list; nullable columns compare as '' so that keyset paging has no NULL holes. */
export const NAMESPACE_SORT_EXPR: Record<string, string> = {
  namespace: 'namespace',
  display_name: "coalesce(display_name, '')",
  description: "coalesce(description, '')",
  visibility: 'visibility',
  protected: 'protected',
  owner: "coalesce(owner, '')",
  created_at: 'created_at',
  updated_at: 'updated_at',
};

/** Keys and tie-breakers (created_at, id) as Glance pages them, all in one direction. */
function keyset(sortKey: string, expr: Record<string, string>): string[] {
  return [...new Set([sortKey, 'created_at', 'id'])].map((k) => expr[k] ?? k);
}

/** Rows after `markerId` in the order of `keys`: one row-value comparison, the marker's values read in SQL. */
function after(builder: Knex.QueryBuilder, table: string, keys: string[], dir: 'asc' | 'desc', markerId: number): void {
  const list = keys.join(', ');
  builder.whereRaw(`(${list}) ${dir === 'asc' ? '>' : '<'} (SELECT ${list} FROM ${table} WHERE id = ?)`, [markerId]);
}

/** One page (limit + 1 rows, to tell whether another follows) of the namespaces `lister` may see. */
export async function listNamespaces(db: Db, q: NamespaceListQuery, lister: Lister): Promise<NamespaceRow[]> {
  const builder = db<NamespaceRow>('metadef_namespaces').select('*');
  if (!lister.isAdmin) {
    builder.where((b) => {
      b.where('visibility', 'public').orWhereNull('owner');
      if (lister.projectId !== null) b.orWhere('owner', lister.projectId);
    });
  }
  if (q.visibility) builder.where('visibility', q.visibility);
  if (q.resourceTypes) {
    const names = q.resourceTypes;
    builder.whereExists((sub) =>
      sub
        .select(db.raw('1'))
        .from('metadef_namespace_resource_types as a')
        .join('metadef_resource_types as rt', 'rt.id', 'a.resource_type_id')
        .whereRaw('a.namespace_id = metadef_namespaces.id')
        .whereIn('rt.name', names),
    );
  }
  const keys = keyset(q.sortKey, NAMESPACE_SORT_EXPR);
  if (q.marker) after(builder, 'metadef_namespaces', keys, q.sortDir, q.marker.id);
  for (const k of keys) builder.orderByRaw(`${k} ${q.sortDir}`);
  return (await builder.limit(q.limit + 1)) as NamespaceRow[];
}

// ---- objects, properties and tags

export async function getContent<T extends ContentTable>(conn: Conn, table: T, namespaceId: number, name: string): Promise<ContentTables[T] | undefined> {
  return conn(table).where({ namespace_id: namespaceId, name }).first();
}

/** A namespace's objects or properties, oldest first. */
export async function listContent<T extends ContentTable>(conn: Conn, table: T, namespaceId: number): Promise<ContentTables[T][]> {
  return conn(table).where({ namespace_id: namespaceId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
}

export async function insertContent<T extends ContentTable>(conn: Conn, table: T, namespaceId: number, fields: ContentFields<T>): Promise<ContentTables[T]> {
  const [row] = await conn(table).insert(toDb({ ...fields, namespace_id: namespaceId })).returning('*');
  return row;
}

/** The updated row; undefined when it is gone. */
export async function updateContent<T extends ContentTable>(conn: Conn, table: T, id: number, fields: ContentFields<T>): Promise<ContentTables[T] | undefined> {
  const [row] = await conn(table).where({ id }).update({ ...toDb(fields), updated_at: conn.fn.now() }).returning('*');
  return row;
}

/** Deletes one (by id) or, without an id, every row of the namespace. */
export async function deleteContent(conn: Conn, table: ContentTable, namespaceId: number, id?: number): Promise<void> {
  const q = conn(table).where({ namespace_id: namespaceId });
  await (id === undefined ? q : q.where({ id })).delete();
}

export interface TagListQuery {
  limit?: number;
  marker?: TagRow;
  sortKey: string;
  sortDir: 'asc' | 'desc';
}

export const TAG_SORT_KEYS = ['name', 'created_at', 'updated_at'];

/** A namespace's tags, paged as Glance pages them (sort key, then created_at and id). */
export async function listTags(conn: Conn, namespaceId: number, q: TagListQuery): Promise<TagRow[]> {
  const builder = conn<TagRow>('metadef_tags').select('*').where({ namespace_id: namespaceId });
  const keys = keyset(q.sortKey, {});
  if (q.marker) after(builder, 'metadef_tags', keys, q.sortDir, q.marker.id);
  for (const k of keys) builder.orderBy(k, q.sortDir);
  if (q.limit !== undefined) builder.limit(q.limit);
  return (await builder) as TagRow[];
}

// ---- resource types and associations

export async function listResourceTypes(conn: Conn): Promise<ResourceTypeRow[]> {
  return conn<ResourceTypeRow>('metadef_resource_types').orderBy('id');
}

/** The resource type's id, creating the type (unprotected) when it is new; safe against a concurrent create. */
export async function ensureResourceType(conn: Conn, name: string): Promise<number> {
  await conn('metadef_resource_types').insert({ name, protected: false }).onConflict('name').ignore();
  const row = await conn<ResourceTypeRow>('metadef_resource_types').where({ name }).first();
  return row!.id;
}

function associations(conn: Conn) {
  return conn('metadef_namespace_resource_types as a')
    .join('metadef_resource_types as rt', 'rt.id', 'a.resource_type_id')
    .select('rt.name', 'a.namespace_id', 'a.prefix', 'a.properties_target', 'a.created_at', 'a.updated_at')
    .orderBy([{ column: 'a.created_at' }, { column: 'rt.id' }]);
}

/** The associations of these namespaces, oldest first. */
export async function listAssociations(conn: Conn, namespaceIds: number[]): Promise<AssociationRow[]> {
  if (!namespaceIds.length) return [];
  return (await associations(conn).whereIn('a.namespace_id', namespaceIds)) as AssociationRow[];
}

export async function getAssociation(conn: Conn, namespaceId: number, name: string): Promise<AssociationRow | undefined> {
  return (await associations(conn).where({ 'a.namespace_id': namespaceId, 'rt.name': name }).first()) as AssociationRow | undefined;
}

export interface AssociationFields {
  name: string;
  prefix?: string | null;
  properties_target?: string | null;
}

export async function insertAssociation(conn: Conn, namespaceId: number, fields: AssociationFields): Promise<AssociationRow> {
  const resourceTypeId = await ensureResourceType(conn, fields.name);
  const [row] = await conn('metadef_namespace_resource_types')
    .insert({ namespace_id: namespaceId, resource_type_id: resourceTypeId, prefix: fields.prefix ?? null, properties_target: fields.properties_target ?? null })
    .returning(['namespace_id', 'prefix', 'properties_target', 'created_at', 'updated_at']);
  return { name: fields.name, ...row } as AssociationRow;
}

/** Removes the association; false when there was none. */
export async function deleteAssociation(conn: Conn, namespaceId: number, name: string): Promise<boolean> {
  const n = await conn('metadef_namespace_resource_types')
    .where({ namespace_id: namespaceId })
    .whereIn('resource_type_id', conn('metadef_resource_types').select('id').where({ name }))
    .delete();
  return n > 0;
}

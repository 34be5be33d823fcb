import { forbidden, notFound, type NuboError } from '../../../lib/errors.ts';
import { isPostgresUniqueViolation, type Db } from '../../../lib/db/index.ts';
import type { ImageContext } from '../context.ts';
import type { ImageCaller } from '../images/access.ts';
import { getNamespace, type NamespaceRow } from './store.ts';
import type { Knex } from 'knex';

export const namespaceNotFound = (name: string) => notFound(`Metadata definition namespace=${name} was not found.`);

/**
 * Whether the caller sees the namespace at all (Glance's database-level
 * check): admins see every one; others public ones, their project's, and
 * those with no owner.
 */
export function isNamespaceVisible(caller: ImageCaller, ns: NamespaceRow): boolean {
  return caller.isAdmin || ns.owner === null || ns.visibility === 'public' || (caller.projectId !== null && ns.owner === caller.projectId);
}

/** The policy target: the namespace's owner and visibility, or the caller's project where no namespace is involved. */
function target(caller: ImageCaller, ns?: NamespaceRow): Record<string, unknown> {
  return ns ? { project_id: ns.owner, visibility: ns.visibility } : { project_id: caller.projectId };
}

export function allowsMetadef(ctx: ImageContext, caller: ImageCaller, rule: string, ns?: NamespaceRow): boolean {
  return ctx.policy.allows(rule, target(caller, ns), caller.auth.credentials);
}

/**
 * Enforces a metadef rule as Glance's MetadefAPIPolicy does: a denial is a
 * 404 when the caller may not even read the namespace (so it leaks nothing),
 * a 403 otherwise.
 */
export function enforceMetadef(ctx: ImageContext, caller: ImageCaller, rule: string, ns?: NamespaceRow): void {
  if (allowsMetadef(ctx, caller, rule, ns)) return;
  if (rule === 'get_metadef_namespace' || !allowsMetadef(ctx, caller, 'get_metadef_namespace', ns)) {
    throw notFound('The resource could not be found.');
  }
  ctx.policy.authorize(rule, target(caller, ns), caller.auth.credentials);
}

/** The namespace if it exists and the caller sees it (404 otherwise); `lock` takes a row lock in a transaction. */
export async function findNamespace(conn: Db | Knex.Transaction, caller: ImageCaller, name: string, lock = false): Promise<NamespaceRow> {
  const ns = await getNamespace(conn, name, lock);
  if (!ns || !isNamespaceVisible(caller, ns)) throw namespaceNotFound(name);
  return ns;
}

/** Glance refuses read-only attributes in a body with a 403 before it validates the body. */
function assertNoReadOnly(body: unknown, readOnly: readonly string[]): void {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return;
  for (const key of readOnly) if (key in body) throw forbidden(`Attribute '${key}' is read-only.`);
}

/** Checks a request body: read-only attributes (403), then the spec's schema (400 naming the field). */
export function checkBody<T>(ctx: ImageContext, schemaName: string, body: unknown, readOnly: readonly string[]): T {
  assertNoReadOnly(body, readOnly);
  ctx.validate(schemaName, body);
  return body as T;
}

/** Read-only attributes of namespaces and objects; of properties, tags and associations. */
export const LINKED_READ_ONLY = ['self', 'schema', 'created_at', 'updated_at'] as const;
export const TIMESTAMPS_READ_ONLY = ['created_at', 'updated_at'] as const;

/** A protected namespace's content may not be deleted: Glance's message for each kind. */
export function assertUnprotected(ns: NamespaceRow, what: string): void {
  if (ns.protected) throw forbidden(`Metadata definition ${what} is protected and cannot be deleted.`);
}

/** `write`'s result; a unique violation (a name already taken) becomes the `taken` error, a 409. */
export async function unlessTaken<T>(write: Promise<T>, taken: () => NuboError): Promise<T> {
  try {
    return await write;
  } catch (e) {
    if (isPostgresUniqueViolation(e)) throw taken();
    throw e;
  }
}

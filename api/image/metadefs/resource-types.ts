import type { components } from '../../../spec/image.d.ts';
import { notFound } from '../../../lib/errors.ts';
import type { ImageContext } from '../context.ts';
import type { ImageCaller } from '../images/access.ts';
import { allowsMetadef, assertUnprotected, checkBody, enforceMetadef, TIMESTAMPS_READ_ONLY } from './access.ts';
import { namespaceFor } from './content.ts';
import { addAssociation } from './namespaces.ts';
import * as store from './store.ts';
import { associationView, resourceTypeView } from './view.ts';

type AssociationBody = components['schemas']['MetadefResourceTypeAssociation'];
type Json = Record<string, unknown>;

/** Every resource type: the seeded ones and those associations created. */
export async function listResourceTypes(ctx: ImageContext, caller: ImageCaller): Promise<Json[]> {
  enforceMetadef(ctx, caller, 'list_metadef_resource_types');
  return (await store.listResourceTypes(ctx.db)).map(resourceTypeView);
}

export async function listAssociations(ctx: ImageContext, caller: ImageCaller, namespace: string): Promise<Json[]> {
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'list_metadef_resource_types');
  if (!allowsMetadef(ctx, caller, 'get_metadef_resource_type', ns)) return [];
  return (await store.listAssociations(ctx.db, [ns.id])).map(associationView);
}

/** Associates a resource type (created when unknown) with the namespace; a 409 when it already is. */
export async function createAssociation(ctx: ImageContext, caller: ImageCaller, namespace: string, raw: unknown): Promise<Json> {
  const body = checkBody<AssociationBody>(ctx, 'MetadefResourceTypeAssociation', raw, TIMESTAMPS_READ_ONLY);
  const ns = await namespaceFor(ctx.db, ctx, caller, namespace, 'add_metadef_resource_type_association');
  const row = await ctx.db.transaction((trx) => addAssociation(trx, ns, body));
  return associationView(row);
}

/** Removes an association; refused (403) while the namespace is protected. */
export async function deleteAssociation(ctx: ImageContext, caller: ImageCaller, namespace: string, name: string): Promise<void> {
  await ctx.db.transaction(async (trx) => {
    const ns = await namespaceFor(trx, ctx, caller, namespace, 'remove_metadef_resource_type_association', true);
    if (!(await store.getAssociation(trx, ns.id, name))) throw notFound(`Failed to find resource type ${name} to delete`);
    assertUnprotected(ns, `resource-type-association ${name}`);
    await store.deleteAssociation(trx, ns.id, name);
  });
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ImageContext } from '../context.ts';
import { callerOf, type ImageCaller } from '../images/access.ts';
import { queryParams } from '../images/routes.ts';
import * as content from './content.ts';
import { parseNamespaceListQuery } from './list-query.ts';
import * as namespaces from './namespaces.ts';
import * as resourceTypes from './resource-types.ts';
import type { ContentTable } from './store.ts';
import { registerMetadefSchemaRoutes } from './schemas.ts';
import { namespaceHref } from './view.ts';

type NsParams = { namespace: string };
type ItemParams = { namespace: string; name: string };
type Query = { resource_type?: string };

const BASE = '/v2/metadefs/namespaces';

type Show = (ctx: ImageContext, caller: ImageCaller, namespace: string, name: string, resourceType?: string) => Promise<unknown>;
type Update = (ctx: ImageContext, caller: ImageCaller, namespace: string, name: string, body: unknown) => Promise<unknown>;
type Remove = (ctx: ImageContext, caller: ImageCaller, namespace: string, name: string) => Promise<void>;

/** Objects, properties and tags by URL segment: their table, and what GET, PUT and DELETE of one of them call. */
const ITEMS: Record<string, { table: ContentTable; show: Show; update: Update; remove: Remove }> = {
  objects: { table: 'metadef_objects', show: content.showObject, update: content.updateObject, remove: content.deleteObject },
  properties: { table: 'metadef_properties', show: content.showProperty, update: content.updateProperty, remove: content.deleteProperty },
  tags: { table: 'metadef_tags', show: content.showTag, update: content.updateTag, remove: content.deleteTag },
};

/** A namespace list link: the same query, with `marker` moved to the given one (none for `first`). */
function listLink(params: Record<string, string[]>, marker?: string): string {
  const qs = new URLSearchParams();
  for (const [k, vs] of Object.entries(params)) if (k !== 'marker') vs.forEach((v) => qs.append(k, v));
  if (marker !== undefined) qs.append('marker', marker);
  const text = qs.toString();
  return text ? `${BASE}?${text}` : BASE;
}

/** /v2/metadefs: Glance's metadata definitions catalog. */
export function registerMetadefRoutes(app: FastifyInstance, ctx: ImageContext): void {
  const caller = (request: FastifyRequest) => callerOf(request, ctx);
  registerMetadefSchemaRoutes(app, ctx);

  // ---- namespaces

  app.get(BASE, async (request) => {
    const params = queryParams(request);
    const page = await namespaces.listNamespaces(ctx, caller(request), parseNamespaceListQuery(params));
    return {
      namespaces: page.namespaces,
      first: listLink(params),
      schema: '/v2/schemas/metadefs/namespaces',
      ...(page.more && page.last !== undefined ? { next: listLink(params, page.last) } : {}),
    };
  });

  app.post(BASE, async (request, reply) => {
    const view = await namespaces.createNamespace(ctx, caller(request), request.body);
    reply.header('Location', namespaceHref(view.namespace as string));
    return reply.code(201).send(view);
  });

  app.get<{ Params: NsParams; Querystring: Query }>(`${BASE}/:namespace`, async (request) =>
    namespaces.showNamespace(ctx, caller(request), request.params.namespace, request.query.resource_type),
  );

  app.put<{ Params: NsParams }>(`${BASE}/:namespace`, async (request) =>
    namespaces.updateNamespace(ctx, caller(request), request.params.namespace, request.body),
  );

  app.delete<{ Params: NsParams }>(`${BASE}/:namespace`, async (request, reply) => {
    await namespaces.deleteNamespace(ctx, caller(request), request.params.namespace);
    return reply.code(204).send();
  });

  // ---- all objects, properties or tags of a namespace, and one of them

  for (const [segment, item] of Object.entries(ITEMS)) {
    app.delete<{ Params: NsParams }>(`${BASE}/:namespace/${segment}`, async (request, reply) => {
      await content.deleteAllContent(ctx, caller(request), request.params.namespace, item.table);
      return reply.code(204).send();
    });
    app.get<{ Params: ItemParams; Querystring: Query }>(`${BASE}/:namespace/${segment}/:name`, async (request) =>
      item.show(ctx, caller(request), request.params.namespace, request.params.name, request.query.resource_type),
    );
    app.put<{ Params: ItemParams }>(`${BASE}/:namespace/${segment}/:name`, async (request) =>
      item.update(ctx, caller(request), request.params.namespace, request.params.name, request.body),
    );
    app.delete<{ Params: ItemParams }>(`${BASE}/:namespace/${segment}/:name`, async (request, reply) => {
      await item.remove(ctx, caller(request), request.params.namespace, request.params.name);
      return reply.code(204).send();
    });
  }

  // ---- objects

  app.get<{ Params: NsParams }>(`${BASE}/:namespace/objects`, async (request) => ({
    objects: await content.listObjects(ctx, caller(request), request.params.namespace),
    schema: '/v2/schemas/metadefs/objects',
  }));

  app.post<{ Params: NsParams }>(`${BASE}/:namespace/objects`, async (request, reply) =>
    reply.code(201).send(await content.createObject(ctx, caller(request), request.params.namespace, request.body)),
  );

  // ---- properties

  app.get<{ Params: NsParams }>(`${BASE}/:namespace/properties`, async (request) => ({
    properties: await content.listProperties(ctx, caller(request), request.params.namespace),
  }));

  app.post<{ Params: NsParams }>(`${BASE}/:namespace/properties`, async (request, reply) =>
    reply.code(201).send(await content.createProperty(ctx, caller(request), request.params.namespace, request.body)),
  );

  // ---- tags

  app.get<{ Params: NsParams }>(`${BASE}/:namespace/tags`, async (request) => ({
    tags: await content.listTags(ctx, caller(request), request.params.namespace, queryParams(request)),
  }));

  app.post<{ Params: NsParams }>(`${BASE}/:namespace/tags`, async (request, reply) => {
    const append = request.headers['x-openstack-append'];
    const tags = await content.createTags(ctx, caller(request), request.params.namespace, request.body, Array.isArray(append) ? append[0] : append);
    return reply.code(201).send({ tags });
  });

  app.post<{ Params: ItemParams }>(`${BASE}/:namespace/tags/:name`, async (request, reply) =>
    reply.code(201).send(await content.createTag(ctx, caller(request), request.params.namespace, request.params.name)),
  );

  // ---- resource types

  app.get('/v2/metadefs/resource_types', async (request) => ({
    resource_types: await resourceTypes.listResourceTypes(ctx, caller(request)),
  }));

  app.get<{ Params: NsParams }>(`${BASE}/:namespace/resource_types`, async (request) => ({
    resource_type_associations: await resourceTypes.listAssociations(ctx, caller(request), request.params.namespace),
  }));

  app.post<{ Params: NsParams }>(`${BASE}/:namespace/resource_types`, async (request, reply) =>
    reply.code(201).send(await resourceTypes.createAssociation(ctx, caller(request), request.params.namespace, request.body)),
  );

  app.delete<{ Params: ItemParams }>(`${BASE}/:namespace/resource_types/:name`, async (request, reply) => {
    await resourceTypes.deleteAssociation(ctx, caller(request), request.params.namespace, request.params.name);
    return reply.code(204).send();
  });
}

import type { FastifyInstance } from 'fastify';
import type { ImageContext } from '../context.ts';
import { authenticate } from '../../http/auth.ts';
import { loadSpec } from '../../http/validation.ts';

/** Inlines `$ref: '#/components/schemas/X'` so a served schema stands alone. */
function inline(node: unknown, schemas: Record<string, unknown>): unknown {
  if (Array.isArray(node)) return node.map((n) => inline(n, schemas));
  if (node && typeof node === 'object') {
    const { $ref, ...rest } = node as Record<string, unknown>;
    const base = typeof $ref === 'string' ? (inline(schemas[$ref.split('/').pop()!], schemas) as Record<string, unknown>) : {};
    return { ...base, ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, inline(v, schemas)])) };
  }
  return node;
}

/**
 * The JSON schemas Glance publishes for its resources, which glanceclient
 * and some tools read. They are the spec's own schemas (spec/image.yaml)
 * with Glance's `name` and `links`.
 */
export function imageSchemas(): Record<string, Record<string, unknown>> {
  const schemas = loadSpec('image').components.schemas as Record<string, unknown>;
  const image: Record<string, unknown> = { name: 'image', ...(inline(schemas.Image, schemas) as Record<string, unknown>) };
  delete image.description;
  image.links = [
    { href: '{self}', rel: 'self' },
    { href: '{file}', rel: 'enclosure' },
    { href: '{schema}', rel: 'describedby' },
  ];
  const images = {
    name: 'images',
    properties: {
      images: { type: 'array', items: image },
      schema: { type: 'string' },
      first: { type: 'string' },
      next: { type: 'string' },
    },
    links: [
      { href: '{first}', rel: 'first' },
      { href: '{next}', rel: 'next' },
      { href: '{schema}', rel: 'describedby' },
    ],
  };
  const result: Record<string, Record<string, unknown>> = { image, images };
  if (schemas.ImageMember) {
    const member = { name: 'member', ...(inline(schemas.ImageMember, schemas) as Record<string, unknown>) };
    result.member = member;
    result.members = {
      name: 'members',
      properties: { members: { type: 'array', items: member }, schema: { type: 'string' } },
      links: [{ href: '{schema}', rel: 'describedby' }],
    };
  }
  return result;
}

export function registerSchemaRoutes(app: FastifyInstance, ctx: ImageContext): void {
  const schemas = imageSchemas();
  app.get<{ Params: { name: string } }>('/v2/schemas/:name', async (request, reply) => {
    authenticate(request, ctx.tokens);
    const schema = schemas[request.params.name];
    if (!schema) return reply.callNotFound();
    return schema;
  });
}

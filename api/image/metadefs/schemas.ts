import type { FastifyInstance } from 'fastify';
import { authenticate } from '../../http/auth.ts';
import { loadSpec } from '../../http/validation.ts';
import type { ImageContext } from '../context.ts';

type Schema = Record<string, unknown>;
const COMPONENT_REF = '#/components/schemas/';

/**
 * Glance's layout of a served schema: the spec's `$ref`s become
 * `#/definitions/<name>`, and every schema they reach (transitively) is in
 * the top-level `definitions`.
 */
function withDefinitions(root: Schema, components: Record<string, Schema>): Schema {
  const definitions: Record<string, Schema> = {};
  const pending: string[] = [];
  const relink = (node: unknown): Schema =>
    JSON.parse(JSON.stringify(node), (_key, value) => {
      if (!value || typeof value.$ref !== 'string' || !value.$ref.startsWith(COMPONENT_REF)) return value;
      const name = value.$ref.slice(COMPONENT_REF.length);
      if (!(name in definitions) && !pending.includes(name)) pending.push(name);
      return { ...value, $ref: `#/definitions/${name}` };
    });
  const out = relink(root);
  for (let name = pending.shift(); name !== undefined; name = pending.shift()) definitions[name] = relink(components[name]);
  return Object.keys(definitions).length ? { ...out, definitions } : out;
}

const LIST_LINKS = [
  { rel: 'first', href: '{first}' },
  { rel: 'next', href: '{next}' },
  { rel: 'describedby', href: '{schema}' },
];

/** A collection of `item` under `name`, as an array (Glance's CollectionSchema) or keyed by name (its DictCollectionSchema). */
function collection(name: string, item: Schema, keyed = false): Schema {
  return {
    name,
    properties: {
      [name]: keyed ? { type: 'object', additionalProperties: item } : { type: 'array', items: item },
      first: { type: 'string' },
      next: { type: 'string' },
      schema: { type: 'string' },
    },
    links: LIST_LINKS,
  };
}

/**
 * The JSON schemas Glance serves at /v2/schemas/metadefs/{name}, built from
 * the spec's Metadef* schemas (the ones request bodies are validated
 * against), keyed by that name.
 */
export function metadefSchemas(): Record<string, Schema> {
  const components = loadSpec('image').components.schemas as Record<string, Schema>;
  const item = (name: string, component: string): Schema => {
    const { description: _description, ...schema } = components[component];
    return { name, ...schema };
  };
  const namespace = item('namespace', 'MetadefNamespace');
  const object = item('object', 'MetadefObject');
  const property = item('property', 'MetadefProperty');
  const tag = item('tag', 'MetadefTag');
  const association = item('resource_type_association', 'MetadefResourceTypeAssociation');
  const raw: Record<string, Schema> = {
    namespace,
    namespaces: collection('namespaces', namespace),
    object,
    objects: collection('objects', object),
    property,
    properties: collection('properties', { ...property, required: (property.required as string[]).filter((r) => r !== 'name') }, true),
    tag,
    tags: collection('tags', tag),
    resource_type: association,
    resource_types: collection('resource_type_associations', association),
  };
  return Object.fromEntries(Object.entries(raw).map(([k, s]) => [k, withDefinitions(s, components)]));
}

/** One static route a schema, beside the image API's /v2/schemas/:name. */
export function registerMetadefSchemaRoutes(app: FastifyInstance, ctx: ImageContext): void {
  for (const [name, schema] of Object.entries(metadefSchemas())) {
    app.get(`/v2/schemas/metadefs/${name}`, async (request) => {
      authenticate(request, ctx.tokens);
      return schema;
    });
  }
}

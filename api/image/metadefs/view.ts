import { isoTime } from '../images/view.ts';
import type { AssociationRow, NamespaceRow, ObjectRow, PropertyDefinition, PropertyRow, ResourceTypeRow, TagRow } from './store.ts';

type Json = Record<string, unknown>;

/** Drops null and undefined values: Glance leaves unset attributes out. */
export function compact(o: Json): Json {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

const times = (row: { created_at: Date; updated_at: Date }) => ({ created_at: isoTime(row.created_at), updated_at: isoTime(row.updated_at) });

export const namespaceHref = (name: string) => `/v2/metadefs/namespaces/${name}`;

export function namespaceView(ns: NamespaceRow): Json {
  return compact({
    namespace: ns.namespace,
    display_name: ns.display_name,
    description: ns.description,
    visibility: ns.visibility,
    protected: ns.protected,
    owner: ns.owner,
    ...times(ns),
    self: namespaceHref(ns.namespace),
    schema: '/v2/schemas/metadefs/namespace',
  });
}

export function objectView(namespace: string, obj: ObjectRow): Json {
  return compact({
    name: obj.name,
    description: obj.description,
    required: obj.required,
    properties: obj.properties,
    ...times(obj),
    self: `${namespaceHref(namespace)}/objects/${obj.name}`,
    schema: '/v2/schemas/metadefs/object',
  });
}

export const propertyView = (prop: PropertyRow): Json => ({ name: prop.name, ...prop.schema });

/** Properties keyed by name, as a namespace and a property list show them. */
export function propertyMap(props: PropertyRow[]): Record<string, PropertyDefinition> {
  return Object.fromEntries(props.map((p) => [p.name, p.schema]));
}

export const tagView = (tag: TagRow): Json => ({ name: tag.name, ...times(tag) });

export const associationView = (a: AssociationRow): Json =>
  compact({ name: a.name, prefix: a.prefix, properties_target: a.properties_target, ...times(a) });

export const resourceTypeView = (rt: ResourceTypeRow): Json => ({ name: rt.name, ...times(rt) });

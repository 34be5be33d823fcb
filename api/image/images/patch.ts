import { badRequest, conflict, forbidden, unsupportedMediaType } from '../../../lib/errors.ts';
import type { BodyValidator } from '../../http/validation.ts';
import { assertNotReserved, BASE_PROPERTIES, READ_ONLY, readOnly } from './properties.ts';
import type { ImageRow } from './store.ts';

export const PATCH_MEDIA_TYPES = ['application/openstack-images-v2.0-json-patch', 'application/openstack-images-v2.1-json-patch'];

/** One checked change: op, the property it touches, and the value for add/replace. */
export interface ImageChange {
  op: 'add' | 'remove' | 'replace';
  property: string;
  value?: unknown;
  /** Draft 4 (v2.0 media type) refuses an add of an existing property. */
  draft4: boolean;
}

/** The media type of a patch request; anything else is a 415 (the route sets Accept-Patch). */
export function patchDraft(contentType: string | undefined): 4 | 10 {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === PATCH_MEDIA_TYPES[0]) return 4;
  if (type === PATCH_MEDIA_TYPES[1]) return 10;
  throw unsupportedMediaType(`Unsupported Content-Type: the patch must be one of ${PATCH_MEDIA_TYPES.join(', ')}`);
}

/** A JSON pointer of one token (Glance allows no deeper path but locations), decoded. */
function propertyOf(pointer: unknown): string {
  if (typeof pointer !== 'string') throw badRequest('The path of a change must be a string.');
  if (!pointer.startsWith('/')) throw badRequest(`Pointer \`${pointer}\` does not start with "/".`);
  if (/~[^01]|~$/.test(pointer)) throw badRequest(`Pointer \`${pointer}\` contains "~" not part of a recognized escape sequence.`);
  const parts = pointer.slice(1).split('/');
  if (parts.length !== 1 || parts[0].trim() === '') throw badRequest(`Invalid JSON pointer for this resource: '${pointer}'`);
  return parts[0].replace(/~1/g, '/').replace(/~0/g, '~').trim();
}

const OPS = ['add', 'remove', 'replace'] as const;

/** Parses and checks a patch body as Glance's deserializer does (400 for bad shape, 403 for read-only or reserved). */
export function parseImagePatch(body: unknown, draft: 4 | 10, validate: BodyValidator): ImageChange[] {
  if (!Array.isArray(body)) throw badRequest('Request body must be a JSON array of operation objects.');
  return body.map((raw) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('Operations must be JSON objects.');
    const change = raw as Record<string, unknown>;
    let op: ImageChange['op'];
    let pointer: unknown;
    if (draft === 10) {
      if (change.op === undefined) throw badRequest(`Unable to find \`op\` in JSON Schema change. It must be one of the following: ${OPS.join(', ')}.`);
      if (!OPS.includes(change.op as never)) throw badRequest(`Invalid operation: \`${String(change.op)}\`. It must be one of the following: ${OPS.join(', ')}.`);
      op = change.op as ImageChange['op'];
      if (!('path' in change)) throw badRequest("Unable to find 'path' in JSON Schema change");
      pointer = change.path;
    } else {
      const present = OPS.filter((o) => o in change);
      if (present.length !== 1) throw badRequest('Operation objects must contain exactly one member named "add", "remove", or "replace".');
      op = present[0];
      pointer = change[op];
    }
    const property = propertyOf(pointer);
    if (READ_ONLY.has(property)) throw readOnly(property);
    if (property === 'locations') throw forbidden("Attribute 'locations' can not be changed: image locations are not exposed.");
    assertNotReserved(property);
    if (op === 'remove') return { op, property, draft4: draft === 4 };
    if (!('value' in change)) throw badRequest(`Operation "${op}" requires a member named "value".`);
    validate('Image', { [property]: change.value });
    return { op, property, value: change.value, draft4: draft === 4 };
  });
}

/** What a patch leaves: the columns to write, and the visibility asked for (policy checks it). */
export interface PatchedImage {
  fields: Partial<ImageRow>;
  visibility?: string;
  ownerChanged: boolean;
}

/** Applies checked changes to an image (not stored): Glance's rules for core and extra properties. */
export function applyImagePatch(image: ImageRow, changes: ImageChange[]): PatchedImage {
  const core: Record<string, unknown> = {};
  const extra: Record<string, string> = { ...image.properties };
  const has = (p: string) => BASE_PROPERTIES.has(p) || p in extra;
  for (const { op, property, value, draft4 } of changes) {
    if (op === 'remove') {
      if (BASE_PROPERTIES.has(property)) throw forbidden(`Property ${property} may not be removed.`);
      if (!(property in extra)) throw conflict(`Property ${property} does not exist.`);
      delete extra[property];
      continue;
    }
    if (op === 'replace' && !has(property)) throw conflict(`Property ${property} does not exist.`);
    if (op === 'add' && draft4 && has(property)) throw conflict(`Property ${property} already present.`);
    if (BASE_PROPERTIES.has(property)) core[property] = property === 'tags' ? [...new Set(value as string[])] : value;
    else extra[property] = value as string;
  }
  return {
    fields: { ...core, properties: extra } as Partial<ImageRow>,
    visibility: core.visibility as string | undefined,
    ownerChanged: 'owner' in core && core.owner !== image.owner,
  };
}

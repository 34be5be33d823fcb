import { badRequest } from '../../../lib/errors.ts';

const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Keystone's parse_expiration_date: an ISO 8601 time, UTC when it names no
 * zone, not in the past. Returned as ISO text with a zone so that the
 * database keeps its microseconds (a JavaScript Date would round them).
 */
export function parseExpiry(value: string): string {
  const m = ISO_8601.exec(value.trim());
  const text = m ? `${m[1]}T${m[2] ?? '00:00:00'}${m[3] ?? 'Z'}` : '';
  const time = m ? Date.parse(text.replace(/(\.\d{3})\d+/, '$1')) : NaN;
  if (!Number.isFinite(time)) {
    throw badRequest(
      'Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
    );
  }
  if (time <= Date.now()) {
    throw badRequest(
      "The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
    );
  }
  return text;
}

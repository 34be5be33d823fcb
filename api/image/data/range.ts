import { badRequest, rangeNotSatisfiable } from '../../../lib/errors.ts';

/** A byte range of an image's data: first and last byte, inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Reads a `Range` header as Glance (through webob) does: one range only
 * (several are a 400); `bytes=a-b`, `bytes=a-` or the suffix `bytes=-n`; a
 * malformed range or a start past the data is a 416. An end past the data
 * is cut to it; a suffix longer than the data means all of it.
 */
export function parseRange(header: string, size: number): ByteRange {
  if (header.includes(',')) {
    throw badRequest('Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.');
  }
  const m = /^bytes *= *(\d*) *- *(\d*)/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) throw rangeNotSatisfiable('Invalid Range header.');
  // webob's form: start (negative for a suffix) and an exclusive end.
  const start = m[1] === '' ? -Number(m[2]) : Number(m[1]);
  const endExclusive = m[1] !== '' && m[2] !== '' ? Number(m[2]) + 1 : undefined;
  if (endExclusive !== undefined && start >= endExclusive) throw rangeNotSatisfiable('Invalid Range header.');
  if (start >= size) {
    throw rangeNotSatisfiable(`Invalid start position in Range header. Start position MUST be in the inclusive range [0, ${size - 1}].`);
  }
  const first = start >= 0 ? start : -start < size ? size + start : 0;
  const last = endExclusive !== undefined && endExclusive < size ? endExclusive - 1 : size - 1;
  return { start: first, end: last };
}

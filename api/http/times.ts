/**
 * Timestamps as the OpenStack services print them, from one ISO string:
 * Keystone and Nova show microseconds (Python's isoformat), Glance and
 * Nova's server bodies whole seconds. Sliced from toISOString's fixed
 * `YYYY-MM-DDTHH:mm:ss.sssZ`, not matched: a server list formats thousands.
 */
const iso = (d: Date | string) => new Date(d).toISOString();

/** toISOString's millisecond part and what follows it replaced by `tail` (a year beyond 9999 has a longer form: matched then). */
const withTail = (d: Date | string, tail: (ms: string) => string) => {
  const s = iso(d);
  if (s.length === 24) return `${s.slice(0, 19)}${tail(s.slice(20, 23))}`;
  return s.replace(/\.(\d{3})Z$/, (_, ms: string) => tail(ms));
};

/** `2026-11-25T08:33:15.123000` (no zone, as Python's naive isoformat). */
export const microsNaive = (d: Date | string) => withTail(d, (ms) => `.${ms}000`);
/** `2026-11-25T08:33:15.123000Z`. */
export const micros = (d: Date | string) => withTail(d, (ms) => `.${ms}000Z`);
/** `2026-11-25T08:33:15Z`. */
export const seconds = (d: Date | string) => withTail(d, () => 'Z');

/**
 * Timestamps as the OpenStack services print them, from one ISO string:
 * Keystone and Nova show microseconds (Python's isoformat), Glance and
 * Nova's server bodies whole seconds.
 */
const iso = (d: Date | string) => new Date(d).toISOString();

/** `2026-11-25T08:33:15.123000` (no zone, as Python's naive isoformat). */
export const microsNaive = (d: Date | string) => iso(d).replace(/\.(\d{3})Z$/, '.$1000');
/** `2026-11-25T08:33:15.123000Z`. */
export const micros = (d: Date | string) => iso(d).replace(/\.(\d{3})Z$/, '.$1000Z');
/** `2026-11-25T08:33:15Z`. */
export const seconds = (d: Date | string) => iso(d).replace(/\.\d{3}Z$/, 'Z');

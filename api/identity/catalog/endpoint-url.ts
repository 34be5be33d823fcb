import { badRequest } from '../../../lib/errors.ts';

/** The placeholders Keystone allows in endpoint URLs, as `$(name)s` or `%(name)s`. */
const allowedPlaceholders = new Set(['tenant_id', 'project_id', 'user_id', 'compute_host', 'public_endpoint']);

/**
 * Keystone's check_endpoint_url: the URL must survive Python's `%`
 * formatting with only the allowed placeholders, so a `%` must start `%%`
 * or an allowed `%(name)s` (after `$(` is read as `%(`).
 */
export function assertValidEndpointUrl(url: string): void {
  const text = url.replaceAll('$(', '%(');
  const invalid = () => badRequest(`Cannot create an endpoint with an invalid URL: ${url}.`);
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '%') continue;
    const next = text[i + 1];
    if (next === '%') {
      i += 1;
      continue;
    }
    if (next !== '(') throw invalid();
    const close = text.indexOf(')', i + 2);
    if (close < 0) throw invalid();
    const name = text.slice(i + 2, close);
    if (!allowedPlaceholders.has(name) || text[close + 1] !== 's') throw invalid();
    i = close + 1;
  }
}

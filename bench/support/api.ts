/**
 * The benches' HTTP client of a cloud's APIs: one request (JSON, a Blob or a
 * stream as the body), failing on any 4xx/5xx, and the admin's project
 * token.
 */
import type { Cloud } from './cloud.ts';

export async function http(method: string, url: string, token: string | null, body?: unknown, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { ...extra };
  if (token) headers['x-auth-token'] = token;
  const stream = body instanceof ReadableStream;
  const raw = stream || body instanceof Blob;
  if (body !== undefined && !raw) headers['content-type'] = 'application/json';
  const init: RequestInit & { duplex?: 'half' } = { method, headers, body: body === undefined ? undefined : raw ? (body as BodyInit) : JSON.stringify(body) };
  // A streamed body must say so (fetch sends it as it is read).
  if (stream) init.duplex = 'half';
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return { res, text };
}

/** A token of the admin user scoped to the admin project, and the project's id. */
export async function adminToken(cloud: Cloud): Promise<{ token: string; projectId: string }> {
  const auth = {
    auth: {
      identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: cloud.adminPassword } } },
      scope: { project: { name: 'admin', domain: { name: 'Default' } } },
    },
  };
  const issued = await http('POST', `${cloud.identityUrl}/v3/auth/tokens`, null, auth);
  return { token: issued.res.headers.get('x-subject-token')!, projectId: JSON.parse(issued.text).token.project.id as string };
}

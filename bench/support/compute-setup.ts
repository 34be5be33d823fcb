/**
 * What the compute benches share: a process's CPU seconds, one HTTP call,
 * and the setup of a run (an admin token, a tiny flavor, an active public
 * image, quotas far above the run).
 */
import { readFileSync } from 'node:fs';
import type { Cloud } from './cloud.ts';

/** CPU seconds (user + system) a process used so far; 0 once it is gone. */
export function cpuOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

export async function http(method: string, url: string, token: string | null, body?: unknown, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { ...extra };
  if (token) headers['x-auth-token'] = token;
  if (body !== undefined && !(body instanceof Blob)) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : body instanceof Blob ? body : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return { res, text };
}

/** An admin token, a tiny flavor, an active public image and instance quotas far above the run in the admin project (finite: creates count usage under the quota lock, as they would in a real cloud). */
export async function prepare(cloud: Cloud) {
  const auth = {
    auth: {
      identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: cloud.adminPassword } } },
      scope: { project: { name: 'admin', domain: { name: 'Default' } } },
    },
  };
  const issued = await http('POST', `${cloud.identityUrl}/v3/auth/tokens`, null, auth);
  const token = issued.res.headers.get('x-subject-token')!;
  const projectId = JSON.parse(issued.text).token.project.id as string;
  const flavor = JSON.parse((await http('POST', `${cloud.computeUrl}/flavors`, token, { flavor: { name: 'bench.nano', ram: 64, vcpus: 1, disk: 1 } })).text).flavor;
  const image = JSON.parse(
    (await http('POST', `${cloud.imageUrl}/v2/images`, token, { name: 'bench', disk_format: 'raw', container_format: 'bare', visibility: 'public' })).text,
  );
  await http('PUT', `${cloud.imageUrl}/v2/images/${image.id}/file`, token, new Blob([new Uint8Array(1024)]), { 'content-type': 'application/octet-stream' });
  await http('PUT', `${cloud.computeUrl}/os-quota-sets/${projectId}`, token, { quota_set: { instances: 100_000, cores: 100_000, ram: 100_000_000 } });
  return { token, flavorId: flavor.id as string, imageId: image.id as string };
}


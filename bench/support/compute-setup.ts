/**
 * What the compute benches share: a process's CPU seconds and the setup of a
 * run (an admin token, a tiny flavor, an active public image, quotas far
 * above the run).
 */
import { readFileSync } from 'node:fs';
import { adminToken, http } from './api.ts';
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

/** An admin token, a tiny flavor, an active public image and instance quotas far above the run in the admin project (finite: creates count usage under the quota lock, as they would in a real cloud). */
export async function prepare(cloud: Cloud) {
  const { token, projectId } = await adminToken(cloud);
  const flavor = JSON.parse((await http('POST', `${cloud.computeUrl}/flavors`, token, { flavor: { name: 'bench.nano', ram: 64, vcpus: 1, disk: 1 } })).text).flavor;
  const image = JSON.parse(
    (await http('POST', `${cloud.imageUrl}/v2/images`, token, { name: 'bench', disk_format: 'raw', container_format: 'bare', visibility: 'public' })).text,
  );
  await http('PUT', `${cloud.imageUrl}/v2/images/${image.id}/file`, token, new Blob([new Uint8Array(1024)]), { 'content-type': 'application/octet-stream' });
  await http('PUT', `${cloud.computeUrl}/os-quota-sets/${projectId}`, token, { quota_set: { instances: 100_000, cores: 100_000, ram: 100_000_000 } });
  return { token, flavorId: flavor.id as string, imageId: image.id as string };
}

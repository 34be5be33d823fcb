/**
 * The config drive: an ISO9660 image labelled `config-2` in the layout
 * cloud-init and other guest agents read (Nova's configdrive and
 * InstanceMetadata): `openstack/<version>/meta_data.json`, `user_data`,
 * `network_data.json`, `vendor_data.json`, `vendor_data2.json`, injected
 * files under `openstack/content/`, and the EC2 flavour under
 * `ec2/<version>/`. Every version directory gets the same documents.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DriverError, type InstanceSpec, type NetworkInfo, type SpawnOptions } from '../../driver.ts';

const run = promisify(execFile);

/** The OpenStack metadata versions written (the first Nova had, and latest). */
export const OPENSTACK_VERSIONS = ['2012-08-10', '2013-10-17', 'latest'];
const EC2_VERSIONS = ['2009-04-04', 'latest'];

type Json = Record<string, unknown>;

function prefixLength(mask: number): string {
  const bits = (0xffffffff << (32 - mask)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join('.');
}

/** network_data.json (Nova's netutils.get_network_metadata): links, networks, services. */
export function networkData(networkInfo: NetworkInfo): Json {
  const links: Json[] = [];
  const networks: Json[] = [];
  const services: Json[] = [];
  networkInfo.forEach((vif) => {
    const link = `tap${vif.id.slice(0, 11)}`;
    links.push({ id: link, vif_id: vif.id, type: vif.type === 'ovs' || vif.type === 'bridge' ? vif.type : 'phy', mtu: vif.network.mtu ?? null, ethernet_mac_address: vif.address });
    for (const subnet of vif.network.subnets) {
      const v6 = subnet.cidr.includes(':');
      const prefix = Number(subnet.cidr.split('/')[1] ?? (v6 ? 64 : 24));
      for (const ip of subnet.ips) {
        networks.push({
          id: `network${networks.length}`,
          type: v6 ? 'ipv6' : 'ipv4',
          link,
          ip_address: ip.address,
          netmask: v6 ? String(prefix) : prefixLength(prefix),
          routes: [
            ...(subnet.gateway ? [{ network: v6 ? '::' : '0.0.0.0', netmask: v6 ? '0' : '0.0.0.0', gateway: subnet.gateway }] : []),
            ...subnet.routes.map((r) => ({ network: r.cidr.split('/')[0], netmask: prefixLength(Number(r.cidr.split('/')[1])), gateway: r.gateway })),
          ],
          network_id: vif.network.id,
          services: subnet.dns.map((address) => ({ type: 'dns', address })),
        });
      }
      for (const address of subnet.dns) if (!services.some((s) => s.address === address)) services.push({ type: 'dns', address });
    }
  });
  return { links, networks, services };
}

/** meta_data.json (Nova's InstanceMetadata.get_openstack_item… metadata document). */
export function metaData(instance: InstanceSpec, opts: SpawnOptions, files: { path: string; content_path: string }[]): Json {
  const keys = instance.key_name && instance.key_data ? [{ name: instance.key_name, type: 'ssh', data: instance.key_data }] : [];
  return {
    uuid: instance.uuid,
    name: instance.display_name,
    hostname: instance.hostname,
    launch_index: instance.launch_index,
    availability_zone: instance.availability_zone,
    project_id: instance.project_id,
    random_seed: randomBytes(512).toString('base64'),
    public_keys: Object.fromEntries(keys.map((k) => [k.name, k.data])),
    keys,
    meta: instance.metadata,
    devices: [],
    files,
    ...(opts.adminPassword ? { admin_pass: opts.adminPassword } : {}),
  };
}

function ec2MetaData(instance: InstanceSpec): Json {
  return {
    'ami-id': null,
    'ami-launch-index': instance.launch_index,
    hostname: instance.hostname,
    'local-hostname': instance.hostname,
    'instance-id': instance.name,
    'instance-type': instance.flavor.name,
    placement: { 'availability-zone': instance.availability_zone },
    'public-keys': instance.key_data ? { '0': { 'openssh-key': instance.key_data } } : {},
    'reservation-id': instance.uuid,
  };
}

/** Writes the config drive ISO of `instance` to `isoPath` with genisoimage. */
export async function buildConfigDrive(isoPath: string, instance: InstanceSpec, networkInfo: NetworkInfo, opts: SpawnOptions = {}): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'nubo-configdrive-'));
  try {
    // The files are listed first and written at once (some twenty small files: one after the other, each waits its turn in libuv's pool).
    const entries: [string, string | Buffer][] = [];
    const put = (rel: string, data: string | Buffer) => void entries.push([rel, data]);
    const files = (opts.injectedFiles ?? []).map((f, i) => ({ path: f.path, content_path: `/content/${String(i).padStart(4, '0')}`, data: Buffer.from(f.contents, 'base64') }));
    for (const f of files) put(`openstack${f.content_path}`, f.data);
    const meta = JSON.stringify(metaData(instance, opts, files.map(({ path, content_path }) => ({ path, content_path }))));
    const userData = instance.user_data ? Buffer.from(instance.user_data, 'base64') : null;
    const network = JSON.stringify(networkData(networkInfo));
    for (const v of OPENSTACK_VERSIONS) {
      put(`openstack/${v}/meta_data.json`, meta);
      if (userData) put(`openstack/${v}/user_data`, userData);
      put(`openstack/${v}/network_data.json`, network);
      put(`openstack/${v}/vendor_data.json`, '{}');
      put(`openstack/${v}/vendor_data2.json`, '{}');
    }
    for (const v of EC2_VERSIONS) {
      put(`ec2/${v}/meta-data.json`, JSON.stringify(ec2MetaData(instance)));
      if (userData) put(`ec2/${v}/user-data`, userData);
    }
    const dirs = [...new Set(entries.map(([rel]) => dirname(join(root, rel))))];
    await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
    await Promise.all(entries.map(([rel, data]) => writeFile(join(root, rel), data)));
    await run('genisoimage', ['-o', isoPath, '-ldots', '-allow-lowercase', '-allow-multidot', '-l', '-publisher', 'nubo', '-quiet', '-J', '-r', '-V', 'config-2', root], {
      timeout: 60_000,
    }).catch((e: { stderr?: string; message: string }) => {
      throw new DriverError(`Building the config drive failed: ${(e.stderr ?? e.message).trim()}`, { name: 'ConfigDriveError' });
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

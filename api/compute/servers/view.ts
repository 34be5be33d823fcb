import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { baseUrlOf } from '../../identity/version/routes.ts';
import { novaTime } from '../keypairs/view.ts';
import { resourceLinks } from '../query.ts';
import { statusOf } from './status.ts';
import type { InstanceRow } from './store.ts';
import { seconds as isoTime } from '../../http/times.ts';
import { addressesOf } from './addresses.ts';

/** Nova's utils.isotime: seconds, in UTC, with a Z. */
export { isoTime };

/** Nova's generate_hostid: sha224 of project id and host, "" without a host. */
export const hostIdOf = (host: string | null, projectId: string) => (host ? createHash('sha224').update(projectId + host).digest('hex') : '');

/** The guest's name on the hypervisor, as the conductor names it (system_metadata.instance_name, else instance-<uuid>). */
export const instanceNameOf = (row: Pick<InstanceRow, 'uuid' | 'system_metadata'>) => {
  const name = row.system_metadata?.instance_name;
  return typeof name === 'string' ? name : `instance-${row.uuid}`;
};

const PROGRESS_STATUSES = new Set(['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING']);
const FAULT_STATUSES = new Set(['ERROR', 'DELETED']);

/** The status a row shows: DELETED once deleted, whatever its states. */
export const serverStatus = (row: Pick<InstanceRow, 'deleted_at' | 'vm_state' | 'task_state'>) => (row.deleted_at ? 'DELETED' : statusOf(row.vm_state, row.task_state));

/** What a server body shows besides the row: what the caller may see and what was looked up. */
export interface ServerViewOptions {
  /** context.is_admin: fault details of 500s. */
  isAdmin: boolean;
  /** os-extended-server-attributes: the OS-EXT-SRV-ATTR:* attributes. */
  showExtendedAttr: boolean;
  /** ≥ 2.47: the embedded flavor's extra_specs. */
  showExtraSpecs: boolean;
  /** ≥ 2.16: host_status, when the policy lets the caller see it. */
  hostStatus?: string;
  /** OS-EXT-AZ:availability_zone: the zone of the instance's host, else the one asked for. */
  zone: string | null;
  /** PUT and rebuild before 2.75 answer the basic attributes only. */
  basicOnly?: boolean;
  /** key_name even when basicOnly (rebuild ≥ 2.54). */
  showKeypair?: boolean;
  /** OS-EXT-SRV-ATTR:user_data (not in rebuild answers, which carry user_data themselves). */
  showUserData?: boolean;
  /** ≥ 2.71 (show, PUT, rebuild): the server group uuids. */
  serverGroups?: string[];
}

function flavorOf(request: FastifyRequest, row: InstanceRow, showExtraSpecs: boolean): Record<string, unknown> {
  const f = row.flavor;
  if (request.microversion.atLeast('2.47')) {
    const body: Record<string, unknown> = {
      vcpus: row.vcpus,
      ram: row.memory_mb,
      disk: row.root_gb,
      ephemeral: Number(f.ephemeral_gb ?? 0),
      swap: Number(f.swap ?? 0),
      original_name: f.name,
    };
    if (showExtraSpecs) body.extra_specs = f.extra_specs ?? {};
    return body;
  }
  const id = String(f.flavorid);
  return { id, links: [{ rel: 'bookmark', href: `${baseUrlOf(request)}/flavors/${id}` }] };
}

const imageOf = (request: FastifyRequest, row: InstanceRow) =>
  row.image_ref ? { id: row.image_ref, links: [{ rel: 'bookmark', href: `${baseUrlOf(request)}/images/${row.image_ref}` }] } : '';

function faultOf(row: InstanceRow, isAdmin: boolean) {
  const f = row.fault;
  if (!f) return undefined;
  const fault: Record<string, unknown> = { code: f.code, created: isoTime(f.created), message: f.message };
  if (f.details && (isAdmin || f.code !== 500)) fault.details = f.details;
  return fault;
}

/** Nova's server view builder `show`, for the request's microversion. */
export function serverView(request: FastifyRequest, row: InstanceRow, o: ServerViewOptions): Record<string, unknown> {
  const v = request.microversion;
  const full = !o.basicOnly;
  const status = serverStatus(row);
  const s: Record<string, unknown> = {
    id: row.uuid,
    name: row.display_name,
    status,
    tenant_id: row.project_id,
    user_id: row.user_id,
    metadata: row.metadata ?? {},
    hostId: hostIdOf(row.host, row.project_id),
    image: imageOf(request, row),
    flavor: flavorOf(request, row, o.showExtraSpecs),
    created: isoTime(row.created_at),
    updated: isoTime(row.updated_at),
    addresses: addressesOf(row),
    accessIPv4: row.access_ip_v4 ?? '',
    accessIPv6: row.access_ip_v6 ?? '',
    links: resourceLinks(request, 'servers', row.uuid),
    'OS-DCF:diskConfig': row.auto_disk_config ? 'AUTO' : 'MANUAL',
  };
  if (FAULT_STATUSES.has(status)) {
    const fault = faultOf(row, o.isAdmin);
    if (fault) s.fault = fault;
  }
  if (PROGRESS_STATUSES.has(status)) s.progress = row.progress ?? 0;
  if (full) {
    s['OS-EXT-AZ:availability_zone'] = o.zone ?? '';
    s.config_drive = row.config_drive ? 'True' : '';
  }
  if (full || o.showKeypair) s.key_name = row.key_name;
  if (full) {
    s['OS-SRV-USG:launched_at'] = row.launched_at ? novaTime(new Date(row.launched_at)) : null;
    s['OS-SRV-USG:terminated_at'] = row.terminated_at ? novaTime(new Date(row.terminated_at)) : null;
    if (row.security_groups?.length) s.security_groups = row.security_groups.map((name) => ({ name }));
  }
  const extended = full && o.showExtendedAttr;
  if (extended) {
    s['OS-EXT-SRV-ATTR:host'] = row.host;
    s['OS-EXT-SRV-ATTR:instance_name'] = instanceNameOf(row);
    s['OS-EXT-SRV-ATTR:hypervisor_hostname'] = row.node;
    if (v.atLeast('2.3')) {
      s['OS-EXT-SRV-ATTR:reservation_id'] = row.reservation_id;
      s['OS-EXT-SRV-ATTR:launch_index'] = row.launch_index;
      s['OS-EXT-SRV-ATTR:hostname'] = row.hostname;
      s['OS-EXT-SRV-ATTR:kernel_id'] = '';
      s['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      const root = row.system_metadata?.root_device_name;
      s['OS-EXT-SRV-ATTR:root_device_name'] = typeof root === 'string' ? root : null;
      if (o.showUserData !== false) s['OS-EXT-SRV-ATTR:user_data'] = row.user_data;
    }
  }
  if (full) {
    s['OS-EXT-STS:task_state'] = row.task_state;
    s['OS-EXT-STS:vm_state'] = row.vm_state;
    s['OS-EXT-STS:power_state'] = row.power_state;
    s['os-extended-volumes:volumes_attached'] = [];
  }
  if (v.atLeast('2.16') && o.hostStatus !== undefined) s.host_status = o.hostStatus;
  if (v.atLeast('2.9')) s.locked = row.locked;
  if (v.atLeast('2.73')) s.locked_reason = row.locked_reason;
  if (v.atLeast('2.19')) s.description = row.display_description;
  if (v.atLeast('2.26')) s.tags = row.tags ?? [];
  if (v.atLeast('2.63')) s.trusted_image_certificates = row.trusted_certs?.length ? row.trusted_certs : null;
  if (v.atLeast('2.90') && !extended) s['OS-EXT-SRV-ATTR:hostname'] = row.hostname;
  if (o.serverGroups && v.atLeast('2.71')) s.server_groups = o.serverGroups;
  return s;
}

/** GET /servers: id, name and links. */
export const serverBriefView = (request: FastifyRequest, row: InstanceRow) => ({ id: row.uuid, name: row.display_name, links: resourceLinks(request, 'servers', row.uuid) });

/** The 202 answer of POST /servers: id, links, diskConfig, the requested security groups and the admin password. */
export function createdServerView(request: FastifyRequest, row: InstanceRow, securityGroups: { name: string }[] | undefined, adminPass: string) {
  return {
    server: {
      id: row.uuid,
      links: resourceLinks(request, 'servers', row.uuid),
      'OS-DCF:diskConfig': row.auto_disk_config ? 'AUTO' : 'MANUAL',
      security_groups: securityGroups ?? [{ name: 'default' }],
      adminPass,
    },
  };
}

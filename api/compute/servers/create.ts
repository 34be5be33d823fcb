import { randomInt, randomUUID } from 'node:crypto';
import type { Microversion } from '../../http/microversion.ts';
import { COMPUTE_BINARY } from '../../../compute-driver/rpc.ts';
import { badRequest, forbidden } from '../../../lib/errors.ts';
import { schedulerClient } from '../../../scheduler/rpc.ts';
import { authorizeCompute, type ComputeCaller } from '../caller.ts';
import type { ComputeContext } from '../context.ts';
import { extraSpecsOf, getFlavorWithExtraSpecs, type FlavorRow } from '../flavors/store.ts';
import { getKeypair } from '../keypairs/store.ts';
import { parseBool } from '../query.ts';
import { isUnlimited } from '../quotas/resources.ts';
import { quotaLayers } from '../quotas/service.ts';
import { assertServerGroupMembersQuota } from '../server-groups/service.ts';
import { getGroup } from '../server-groups/store.ts';
import { isUuidLike } from '../services/state.ts';
import { assertImageFitsFlavor, imageMetaOf, visibleImage } from './image.ts';
import { instancesWithinQuota } from './quota.ts';
import * as store from './store.ts';
import type { InstanceRow, NewInstance, StoredFlavor } from './store.ts';
import { canonicalIpv6 } from './access-ip.ts';

type Json = Record<string, unknown>;

/** POST /servers `server`, as the spec validated it for the request's microversion. */
export interface ServerCreateInput {
  name: string;
  imageRef?: string;
  flavorRef: string | number;
  adminPass?: string;
  metadata?: Record<string, string>;
  networks?: 'auto' | 'none' | { uuid?: string; port?: string | null; fixed_ip?: string; tag?: string }[];
  'OS-DCF:diskConfig'?: 'AUTO' | 'MANUAL';
  accessIPv4?: string;
  accessIPv6?: string;
  personality?: { path?: string; contents?: string }[];
  availability_zone?: string;
  block_device_mapping?: Json[];
  block_device_mapping_v2?: Json[];
  config_drive?: boolean | string;
  key_name?: string;
  min_count?: number | string;
  max_count?: number | string;
  return_reservation_id?: boolean | string;
  security_groups?: { name?: string }[];
  user_data?: string | null;
  description?: string | null;
  tags?: string[];
  trusted_image_certificates?: string[] | null;
  host?: string;
  hypervisor_hostname?: string;
  hostname?: string;
}

export interface ServerCreateBody {
  server: ServerCreateInput;
  'os:scheduler_hints'?: Json;
  'OS-SCH-HNT:scheduler_hints'?: Json;
}

export interface CreatedServers {
  rows: InstanceRow[];
  reservationId: string;
  adminPass: string;
  /** As the request listed them (the create answer echoes them). */
  securityGroups?: { name: string }[];
  returnReservationId: boolean;
}

/** Nova's utils.generate_password: 12 characters, at least one of each symbol group, none ambiguous. */
export function generatePassword(length = 12): string {
  const groups = ['23456789', 'ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz'];
  const all = groups.join('');
  const chars = groups.map((g) => g[randomInt(g.length)]);
  while (chars.length < length) chars.push(all[randomInt(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}

/** Nova's reservation ids: r- and 8 characters. */
const reservationId = () => `r-${Array.from({ length: 8 }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[randomInt(36)]).join('')}`;

/** Nova's utils.sanitize_hostname. */
export function sanitizeHostname(name: string): string {
  let h = [...name].filter((c) => c.charCodeAt(0) <= 0xff).join('').slice(0, 63);
  h = h.replace(/[ _.]/g, '-').replace(/[^\w.-]+/g, '').toLowerCase();
  return h.replace(/^[.-]+|[.-]+$/g, '');
}

/** The last path segment of an href (Nova's get_id_from_href): flavorRef and imageRef may be links. */
const idFromHref = (href: string) => {
  try {
    return new URL(href).pathname.split('/').pop() ?? href;
  } catch {
    return href.split('?')[0].split('/').pop() ?? href;
  }
};

const toInt = (v: number | string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));

/** The flavor as the instance keeps it (Nova's object field names); its extra specs are read unless given. */
export async function flavorCopy(ctx: ComputeContext, f: FlavorRow, extraSpecs?: Record<string, string>): Promise<StoredFlavor> {
  return {
    flavorid: f.flavorid,
    name: f.name,
    vcpus: f.vcpus,
    memory_mb: f.memory_mb,
    root_gb: f.root_gb,
    ephemeral_gb: f.ephemeral_gb,
    swap: f.swap,
    rxtx_factor: f.rxtx_factor,
    description: f.description,
    extra_specs: extraSpecs ?? (await extraSpecsOf(ctx.db, [f.id])).get(f.id) ?? {},
  };
}

interface BootSource {
  imageId: string | null;
  bdms: Json[];
}

/**
 * Nova's block device mapping processing, as far as Nubo can boot: v2
 * mappings from an image to a local disk (the root disk, boot_index 0) and
 * blank local disks (ephemeral, swap). Anything on a volume needs a block
 * storage service Nubo does not have yet: 400.
 */
function bootSource(server: ServerCreateInput): BootSource {
  const legacy = server.block_device_mapping ?? [];
  const v2 = server.block_device_mapping_v2 ?? [];
  if (legacy.length && v2.length) throw badRequest('Using different block_device_mapping syntaxes is not allowed in the same request.');
  if (legacy.length) throw badRequest('Block Device Mapping is Invalid: volumes are not supported (there is no block storage service).');
  let imageId: string | null = null;
  const bdms: Json[] = [];
  for (const b of v2) {
    const source = String(b.source_type ?? (b.image_id ? 'image' : b.volume_id ? 'volume' : b.snapshot_id ? 'snapshot' : 'blank'));
    const destination = String(b.destination_type ?? (source === 'image' || source === 'blank' ? 'local' : 'volume'));
    const bootIndex = b.boot_index === undefined || b.boot_index === null ? null : Number(b.boot_index);
    if (destination === 'volume' || source === 'volume' || source === 'snapshot') {
      throw badRequest('Block Device Mapping is Invalid: volumes are not supported (there is no block storage service).');
    }
    if (source === 'image') {
      if (bootIndex !== 0) throw badRequest('Block Device Mapping is Invalid: Mapping image to local is not supported.');
      const id = String(b.uuid ?? b.image_id ?? '');
      if (!id) throw badRequest('Block Device Mapping is Invalid: Missing device UUID.');
      imageId = id;
    } else if (bootIndex === 0) {
      throw badRequest('Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.');
    }
    bdms.push({ ...b, source_type: source, destination_type: destination, boot_index: bootIndex });
  }
  return { imageId, bdms };
}

/**
 * The networks asked for (Nova's _get_requested_networks): `auto`/`none`
 * from 2.37, or networks, ports and fixed IPs. Nubo has no network service
 * yet, so a network or port id names nothing: 400, as Nova's NetworkNotFound.
 */
function requestedNetworks(server: ServerCreateInput): Json[] | null {
  const n = server.networks;
  if (n === undefined) return null;
  if (typeof n === 'string') return [{ network_id: n }];
  const ports: string[] = [];
  const out: Json[] = [];
  for (const net of n) {
    if (net.port) {
      if (ports.includes(net.port)) throw badRequest(`Port ID '${net.port}' was specified twice: you cannot attach a port multiple times.`);
      if (net.fixed_ip !== undefined) {
        throw badRequest(`Specified Fixed IP '${net.fixed_ip}' cannot be used with port '${net.port}': the two cannot be specified together.`);
      }
      ports.push(net.port);
      out.push({ port_id: net.port, tag: net.tag ?? null });
    } else {
      if (net.uuid === undefined) throw badRequest("Bad network format: missing 'uuid'");
      if (!isUuidLike(net.uuid)) throw badRequest(`Bad networks format: network uuid is not in proper format (${net.uuid})`);
      out.push({ network_id: net.uuid, fixed_ip: net.fixed_ip ?? null, tag: net.tag ?? null });
    }
  }
  for (const r of out) {
    if (r.port_id) throw badRequest(`Port ${r.port_id} could not be found.`);
    throw badRequest(`Network ${r.network_id} could not be found.`);
  }
  return out;
}

/** Nova's parse_availability_zone: `az`, `az:host`, `az:host:node` or `az::node`. */
function parseZone(value: string | undefined): { zone: string | null; host: string | null; node: string | null } {
  if (!value || !value.includes(':')) return { zone: value || null, host: null, node: null };
  const parts = value.split(':');
  if (parts.length === 2) return { zone: parts[0] || null, host: parts[1] || null, node: null };
  if (parts.length === 3) return { zone: parts[0] || null, host: parts[1] || null, node: parts[2] || null };
  throw badRequest('Invalid input received: Unable to parse availability_zone');
}

/** Personality files (before 2.57) within the injected_files quotas (403 as Nova's OnsetFile*LimitExceeded). */
function injectedFiles(files: ServerCreateInput['personality'], limits: Record<string, number>): { path: string; contents: string }[] {
  const out = (files ?? []).map((f) => ({ path: f.path ?? '', contents: f.contents ?? '' }));
  if (!out.length) return out;
  const over = (limit: number, value: number) => !isUnlimited(limit) && value > limit;
  if (over(limits.injected_files, out.length)) throw forbidden('Personality file limit exceeded');
  for (const f of out) {
    if (over(limits.injected_file_path_bytes, Buffer.byteLength(f.path))) {
      throw forbidden(`Personality file path exceeds maximum ${limits.injected_file_path_bytes}`);
    }
    if (over(limits.injected_file_content_bytes, Buffer.from(f.contents, 'base64').length)) {
      throw forbidden(`Personality file content exceeds maximum ${limits.injected_file_content_bytes}`);
    }
  }
  return out;
}

/** Nova's metadata_items quota on a server's metadata (403 "Maximum number of metadata items exceeds N"). */
export function assertMetadataQuota(limit: number, metadata: Record<string, unknown>): void {
  if (!isUnlimited(limit) && Object.keys(metadata).length > limit) throw forbidden(`Maximum number of metadata items exceeds ${limit}`);
}

/**
 * POST /servers (Nova's ServersController.create and compute API create):
 * checks the request against the image, flavor, keypair, zone, group and
 * quotas; then, in one transaction holding the project's quota lock, counts
 * the project's usage, inserts min..max instances (building/scheduling),
 * records their `create` actions and group membership; once committed, casts
 * build_instances to the scheduler.
 */
export async function createServers(
  ctx: ComputeContext,
  caller: ComputeCaller,
  microversion: Microversion,
  requestId: string,
  body: ServerCreateBody,
): Promise<CreatedServers> {
  const server = body.server;
  const projectId = caller.projectId;
  const name = server.name.trim();
  const description = microversion.atLeast('2.19') ? (server.description ?? null) : name;
  const requestedHostname = microversion.atLeast('2.90') ? (server.hostname ?? null) : null;
  const adminPass = server.adminPass ?? generatePassword();
  const hints = body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints'] ?? {};
  const minCount = toInt(server.min_count, 1);
  const maxCount = toInt(server.max_count, minCount);
  if (minCount > maxCount) throw badRequest('min_count must be <= max_count');
  const securityGroups = server.security_groups ? [...new Set(server.security_groups.map((g) => g.name).filter((n): n is string => !!n))] : ['default'];
  // Security groups are the network service's; without one only a project's implicit 'default' exists.
  const unknownGroup = securityGroups.find((name) => name !== 'default');
  if (unknownGroup !== undefined) throw badRequest(`Security group ${unknownGroup} not found.`);
  const tags = microversion.atLeast('2.52') && server.tags ? [...new Set(server.tags)] : [];

  const target = { project_id: projectId, user_id: caller.userId, availability_zone: server.availability_zone ?? null };
  authorizeCompute(ctx, caller, 'os_compute_api:servers:create', target);
  if (projectId === null) throw badRequest('Servers belong to a project: use a project-scoped token.');
  const trustedCerts = server.trusted_image_certificates ?? null;
  if (trustedCerts?.length) authorizeCompute(ctx, caller, 'os_compute_api:servers:create:trusted_certs', target);

  const az = parseZone(server.availability_zone);
  if (az.host || az.node) authorizeCompute(ctx, caller, 'os_compute_api:servers:create:forced_host', target);
  const requestedHost = microversion.atLeast('2.74') ? (server.host ?? null) : null;
  const requestedNode = microversion.atLeast('2.74') ? (server.hypervisor_hostname ?? null) : null;
  if (requestedHost || requestedNode) {
    authorizeCompute(ctx, caller, 'compute:servers:create:requested_destination', target);
    if (az.host || az.node) {
      throw badRequest('One mechanism with host and/or hypervisor_hostname and another mechanism with zone:host:node are mutually exclusive.');
    }
  }

  const boot = bootSource(server);
  if (boot.bdms.length) authorizeCompute(ctx, caller, 'os_compute_api:servers:create:attach_volume', target);
  const imageRef = server.imageRef ? idFromHref(server.imageRef) : boot.imageId;
  if (!imageRef) throw badRequest('Missing imageRef attribute');

  const networks = server.networks;
  if (networks !== undefined && networks !== 'none' && !(Array.isArray(networks) && networks.length === 0)) {
    authorizeCompute(ctx, caller, 'os_compute_api:servers:create:attach_network', target);
  }
  const requested = requestedNetworks(server);

  // Every read the checks need, at once; the checks below keep Nova's order.
  const flavorId = idFromHref(String(server.flavorRef));
  const groupUuid = typeof hints.group === 'string' ? hints.group : undefined;
  const [flavorRow, zones, image, kp, quotas, group] = await Promise.all([
    getFlavorWithExtraSpecs(ctx.db, flavorId, { isAdmin: caller.isAdmin, projectId }).then(async (f) =>
      f && !f.disabled ? { row: f, copy: await flavorCopy(ctx, f, f.extra_specs) } : undefined,
    ),
    az.zone && !az.host ? store.availableZones(ctx.db, COMPUTE_BINARY) : undefined,
    visibleImage(ctx, caller, imageRef),
    server.key_name !== undefined ? getKeypair(ctx.db, caller.userId, server.key_name) : undefined,
    quotaLayers(ctx, projectId, caller.userId),
    groupUuid ? getGroup(ctx.db, groupUuid) : undefined,
  ]);
  if (!flavorRow) throw badRequest(`Flavor ${flavorId} could not be found.`);
  const flavor = flavorRow.copy;

  if (requestedHostname && maxCount > 1) throw badRequest('Unable to allocate a single hostname to multiple instances');
  if (zones && !zones.has(az.zone!)) throw badRequest('The requested availability zone is not available');

  if (!image) throw badRequest('Can not find requested image');
  assertImageFitsFlavor(ctx, caller, image, flavor);

  let keyData: string | null = null;
  if (server.key_name !== undefined) {
    if (!kp) throw badRequest('Invalid key_name provided.');
    keyData = kp.public_key;
  }
  const configDrive = server.config_drive === undefined ? false : parseBool(server.config_drive) === true;

  const limits = quotas.user;
  const metadata = server.metadata ?? {};
  assertMetadataQuota(limits.metadata_items, metadata);
  const files = microversion.atLeast('2.57') ? [] : injectedFiles(server.personality, limits);

  if (groupUuid && (!group || (!caller.isAdmin && group.project_id !== projectId))) {
    throw badRequest(`Instance group ${groupUuid} could not be found.`);
  }

  const resv = reservationId();
  const requestSpec: Json = {
    scheduler_hints: hints,
    availability_zone: az.zone,
    num_instances: maxCount,
    is_bfv: false,
    ...(az.host ? { force_hosts: [az.host] } : {}),
    ...(az.node ? { force_nodes: [az.node] } : {}),
    ...(requestedHost || requestedNode ? { requested_destination: { host: requestedHost, node: requestedNode } } : {}),
    admin_password: adminPass,
    ...(files.length ? { injected_files: files } : {}),
  };

  // Only the usage is counted under the lock (limits change without it): the lock is held for as few statements as can be.
  const rows = await ctx.db.transaction(async (trx) => {
    await store.lockProjectQuota(trx, projectId);
    let count = instancesWithinQuota(quotas.project, await store.instanceUsage(trx, projectId), flavor.vcpus, flavor.memory_mb, minCount, maxCount);
    // Nova counts a user's instances too when the user has limits of their own.
    if (['instances', 'cores', 'ram'].some((r) => r in quotas.own)) {
      count = instancesWithinQuota(quotas.user, await store.instanceUsage(trx, projectId, caller.userId), flavor.vcpus, flavor.memory_mb, minCount, count);
    }
    if (group) await assertServerGroupMembersQuota(ctx, trx, group, caller.userId, count);

    const news: NewInstance[] = Array.from({ length: count }, (_, i) => {
      const uuid = randomUUID();
      const displayName = count > 1 ? `${name}-${i + 1}` : name;
      let hostname = requestedHostname ?? sanitizeHostname(name);
      if (!hostname) hostname = `Server-${uuid}`;
      else if (count > 1 && !requestedHostname) hostname = `${hostname}-${i + 1}`;
      return {
        uuid,
        display_name: displayName,
        display_description: description,
        project_id: projectId,
        user_id: caller.userId,
        hostname,
        availability_zone: az.zone,
        flavor,
        vcpus: flavor.vcpus,
        memory_mb: flavor.memory_mb,
        root_gb: flavor.root_gb,
        image_ref: image.id,
        image_meta: imageMetaOf(image),
        key_name: server.key_name ?? null,
        key_data: keyData,
        user_data: server.user_data ?? null,
        config_drive: configDrive,
        auto_disk_config: server['OS-DCF:diskConfig'] === 'AUTO',
        trusted_certs: trustedCerts,
        metadata,
        system_metadata: { image_base_image_ref: image.id, instance_name: `instance-${uuid}` },
        tags,
        security_groups: securityGroups,
        requested_networks: requested,
        block_device_mapping: boot.bdms,
        request_spec: requestSpec,
        vm_state: 'building',
        task_state: 'scheduling',
        reservation_id: resv,
        launch_index: i,
        access_ip_v4: server.accessIPv4 ?? null,
        access_ip_v6: server.accessIPv6 === undefined ? null : canonicalIpv6(server.accessIPv6),
      };
    });
    const inserted = await store.insertInstancesWithAction(trx, news, { action: 'create', requestId, userId: caller.userId, projectId });
    if (group) await store.addGroupMembers(trx, group.uuid, inserted.map((r) => r.uuid));
    return inserted.sort((a, b) => a.launch_index - b.launch_index);
  });

  try {
    await schedulerClient(ctx.bus).cast('build_instances', { instance_uuids: rows.map((r) => r.uuid), request_id: requestId });
  } catch (e) {
    // The rows wait for a host; the conductor's sweep finds builds nobody scheduled.
    ctx.logger.error({ err: e, request_id: requestId }, 'could not cast build_instances to the scheduler');
  }
  return {
    rows,
    reservationId: resv,
    adminPass,
    securityGroups: server.security_groups as { name: string }[] | undefined,
    returnReservationId: server.return_reservation_id !== undefined && parseBool(server.return_reservation_id) === true,
  };
}

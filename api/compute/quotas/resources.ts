import type { Config } from '../../../lib/config/index.ts';

/**
 * Nova's quota resources (nova/quota.py QUOTAS), in the order Nova lists
 * them (sorted). The last four belonged to nova-network: they are still
 * shown (as -1, unlimited) before the microversions that dropped them.
 */
export const QUOTA_RESOURCES = [
  'cores',
  'fixed_ips',
  'floating_ips',
  'injected_file_content_bytes',
  'injected_file_path_bytes',
  'injected_files',
  'instances',
  'key_pairs',
  'metadata_items',
  'ram',
  'security_group_rules',
  'security_groups',
  'server_group_members',
  'server_groups',
] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];
export type QuotaValues = Record<QuotaResource, number>;

/** The quotas of nova-network, gone from 2.36 (quota sets, limits) and 2.50 (quota classes). */
export const NETWORK_QUOTAS: QuotaResource[] = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups'];
/** Personality (file injection) quotas, gone from 2.57. */
export const INJECTED_FILE_QUOTAS: QuotaResource[] = ['injected_file_content_bytes', 'injected_file_path_bytes', 'injected_files'];

/** The configured defaults (compute.quota.*); the nova-network quotas are unlimited. */
export function configuredDefaults(config: Config): QuotaValues {
  return {
    cores: config['compute.quota.cores'],
    fixed_ips: -1,
    floating_ips: -1,
    injected_file_content_bytes: config['compute.quota.injected_file_content_bytes'],
    injected_file_path_bytes: config['compute.quota.injected_file_path_length'],
    injected_files: config['compute.quota.injected_files'],
    instances: config['compute.quota.instances'],
    key_pairs: config['compute.quota.key_pairs'],
    metadata_items: config['compute.quota.metadata_items'],
    ram: config['compute.quota.ram'],
    security_group_rules: -1,
    security_groups: -1,
    server_group_members: config['compute.quota.server_group_members'],
    server_groups: config['compute.quota.server_groups'],
  };
}

/** A limit at or below -1 means unlimited. */
export const isUnlimited = (v: number) => v <= -1;

// Writes a self-contained Tempest workspace (etc/tempest.conf, .stestr.conf,
// logs/, locks/) for running Tempest's identity tests against a Nubo cloud.
//
//   node --import tsx test/tempest/write-config.ts DIR AUTH_URL ADMIN_PASSWORD
//
// Nothing outside DIR is touched: no `tempest init` (which registers the
// workspace in ~/.tempest/workspace.yaml) and no /etc/tempest.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the Debian `tempest` package keeps its Python modules. */
export const TEMPEST_PACKAGE = '/usr/lib/python3/dist-packages/tempest';

export interface TempestWorkspaceOptions {
  /** Workspace directory; created if missing. */
  dir: string;
  /** Keystone auth URL, with or without the trailing /v3. */
  authUrl: string;
  adminPassword: string;
  adminUser?: string;
  adminProject?: string;
  adminDomain?: string;
  region?: string;
  /** Seconds before a single HTTP request from Tempest gives up. */
  httpTimeout?: number;
  /** Images servers boot from ([compute] image_ref, image_ref_alt); without them Tempest sends imageRef null. */
  imageRef?: string;
  imageRefAlt?: string;
}

export interface TempestWorkspace {
  dir: string;
  configFile: string;
  logDir: string;
}

type Sections = Record<string, Record<string, string | number | boolean>>;

export function tempestConfig(o: TempestWorkspaceOptions & { logDir: string; lockDir: string }): Sections {
  const base = o.authUrl.replace(/\/+$/, '').replace(/\/v3$/, '');
  const domain = o.adminDomain ?? 'Default';
  return {
    DEFAULT: {
      log_dir: o.logDir,
      log_file: 'tempest.log',
      debug: true,
      use_stderr: false,
    },
    oslo_concurrency: { lock_path: o.lockDir },
    auth: {
      admin_username: o.adminUser ?? 'admin',
      admin_password: o.adminPassword,
      admin_project_name: o.adminProject ?? 'admin',
      admin_domain_name: domain,
      admin_user_domain_name: domain,
      admin_project_domain_name: domain,
      use_dynamic_credentials: true,
      create_isolated_networks: false,
      default_credentials_domain_name: domain,
    },
    identity: {
      catalog_type: 'identity',
      uri_v3: `${base}/v3`,
      auth_version: 'v3',
      region: o.region ?? 'RegionOne',
      v3_endpoint_type: 'public',
      disable_ssl_certificate_validation: true,
      admin_role: 'admin',
      default_domain_id: 'default',
      admin_domain_scope: false,
      // What the all-in-one under test enforces (tempestNuboEnv): lockout as
      // configured; no password history or minimum age, as Keystone's defaults.
      user_lockout_failure_attempts: tempestLockout.attempts,
      user_lockout_duration: tempestLockout.durationSeconds,
      user_unique_last_password_count: 0,
      user_minimum_password_age: 0,
    },
    'identity-feature-enabled': {
      api_v2: false,
      api_v2_admin: false,
      api_v3: true,
      // Every Keystone v3 extension (OS-INHERIT, OS-EC2, …): what a real Keystone offers.
      api_extensions: 'all',
      application_credentials: true,
      access_rules: false,
      trust: false,
      project_tags: true,
      security_compliance: true,
      domain_specific_drivers: false,
      immutable_user_source: false,
    },
    'service-clients': { http_timeout: o.httpTimeout ?? 60, proxy_url: '' },
    image: {
      catalog_type: 'image',
      region: o.region ?? 'RegionOne',
      endpoint_type: 'publicURL',
      build_timeout: 60,
      build_interval: 1,
      container_formats: 'bare,ami,ari,aki,ovf,ova,docker,compressed',
      disk_formats: 'qcow2,raw,ami,ari,aki,vhd,vmdk,vdi,iso,vhdx,ploop',
      image_caching_enabled: false,
    },
    'image-feature-enabled': {
      api_v2: true,
      api_v1: false,
      // glance-direct import (stage, then import); locations are not exposed.
      import_image: true,
      os_glance_reserved: true,
      manage_locations: false,
    },
    // Nova v2.1 with servers built by the all-in-one's fake driver; flavors 1
    // (m1.tiny) and 2 (m1.small) come with it. No network service, so servers
    // have no networks.
    compute: {
      catalog_type: 'compute',
      region: o.region ?? 'RegionOne',
      endpoint_type: 'publicURL',
      flavor_ref: '1',
      flavor_ref_alt: '2',
      ...(o.imageRef ? { image_ref: o.imageRef } : {}),
      ...(o.imageRefAlt ? { image_ref_alt: o.imageRefAlt } : {}),
      min_microversion: '2.1',
      max_microversion: 'latest',
      build_timeout: 60,
      build_interval: 1,
    },
    // The server features the API and the fake driver carry out: reboot, stop
    // and start, pause, suspend, lock, rebuild, console output, vnc consoles
    // (the fake driver speaks the RFB handshake), resize and snapshot, the
    // admin password and disk config of a create. Not yet: shelve, rescue,
    // live migration, spice, the metadata service and config drive, and
    // anything that needs a network or a volume.
    'compute-feature-enabled': {
      unified_limits: false,
      personality: false,
      change_password: false,
      console_output: true,
      // resize and confirm/revert run on the all-in-one's one host (compute.allow_resize_to_same_host).
      resize: true,
      pause: true,
      shelve: false,
      suspend: true,
      cold_migration: false,
      live_migration: false,
      metadata_service: false,
      vnc_console: true,
      spice_console: false,
      serial_console: false,
      rescue: false,
      enable_instance_password: true,
      interface_attach: false,
      snapshot: true,
      attach_encrypted_volume: false,
      config_drive: false,
      disk_config: true,
      ide_bus: false,
    },
    // Identity, image and compute so far. (Tempest has no keystone option: identity is always assumed.)
    service_available: {
      keystone: true,
      nova: true,
      glance: true,
      neutron: false,
      cinder: false,
      swift: false,
      horizon: false,
    },
    enforce_scope: { keystone: false, nova: false, neutron: false, glance: false, cinder: false },
    validation: { run_validation: false },
  };
}

/** The lockout the all-in-one under test runs with, and tempest.conf says it has. */
export const tempestLockout = { attempts: 2, durationSeconds: 5 };

/** Environment for the all-in-one Tempest runs against. */
export const tempestNuboEnv = {
  // A free port, as for the other APIs (the runner reads the catalog).
  NUBO_COMPUTE_PORT: '0',
  NUBO_IDENTITY_PASSWORD_HASH_COST: '11',
  NUBO_IDENTITY_LOCKOUT_FAILURE_ATTEMPTS: String(tempestLockout.attempts),
  NUBO_IDENTITY_LOCKOUT_DURATION: String(tempestLockout.durationSeconds),
};

export function renderIni(sections: Sections): string {
  return (
    Object.entries(sections)
      .map(([name, opts]) => `[${name}]\n` + Object.entries(opts).map(([k, v]) => `${k} = ${v}`).join('\n'))
      .join('\n\n') + '\n'
  );
}

/** Creates the workspace and returns its paths. */
export function writeTempestWorkspace(opts: TempestWorkspaceOptions): TempestWorkspace {
  const dir = resolve(opts.dir);
  const etc = join(dir, 'etc');
  const logDir = join(dir, 'logs');
  const lockDir = join(dir, 'locks');
  for (const d of [dir, etc, logDir, lockDir]) mkdirSync(d, { recursive: true });
  const configFile = join(etc, 'tempest.conf');
  writeFileSync(configFile, renderIni(tempestConfig({ ...opts, logDir, lockDir })), { mode: 0o600 });
  // What `tempest init` writes: discover tests from the installed package.
  writeFileSync(
    join(dir, '.stestr.conf'),
    `[DEFAULT]\ntest_path=${join(TEMPEST_PACKAGE, 'test_discover')}\ntop_dir=${dirname(TEMPEST_PACKAGE)}\ngroup_regex=([^\\.]*\\.)*\n`,
  );
  return { dir, configFile, logDir };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, authUrl, adminPassword] = process.argv.slice(2);
  if (!dir || !authUrl || !adminPassword) {
    console.error('usage: node --import tsx test/tempest/write-config.ts DIR AUTH_URL ADMIN_PASSWORD');
    process.exit(2);
  }
  const ws = writeTempestWorkspace({ dir, authUrl, adminPassword });
  console.log(ws.configFile);
}

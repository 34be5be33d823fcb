import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse, stringify } from 'yaml';

export interface CloudEntry {
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  region: string;
}

/**
 * Writes (or replaces) the `nubo` entry of a clouds.yaml, keeping every other
 * cloud in the file. The file holds a password, so it is mode 0600.
 */
export function writeCloudsYaml(path: string, cloud: CloudEntry, name = 'nubo'): void {
  let doc: { clouds?: Record<string, unknown> } = {};
  if (existsSync(path)) {
    const parsed = parse(readFileSync(path, 'utf8'));
    if (parsed && typeof parsed === 'object') doc = parsed;
  }
  doc.clouds = { ...(doc.clouds ?? {}) };
  doc.clouds[name] = {
    auth: {
      auth_url: cloud.authUrl,
      username: cloud.username,
      password: cloud.password,
      project_name: cloud.projectName,
      user_domain_name: 'Default',
      project_domain_name: 'Default',
    },
    region_name: cloud.region,
    interface: 'public',
    identity_api_version: 3,
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, stringify(doc), { mode: 0o600 });
  chmodSync(path, 0o600);
}

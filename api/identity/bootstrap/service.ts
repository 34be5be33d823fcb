import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db } from '../../../lib/db/index.ts';
import { generateSecret, hashPassword, verifyPassword } from '../../../lib/passwords.ts';
import * as store from './store.ts';

export interface CatalogService {
  type: string;
  name: string;
  /** URL of the service on every interface (public, internal, admin). */
  url: string;
}

export interface BootstrapOptions {
  region: string;
  projectName: string;
  userName: string;
  /** The admin password from configuration; '' means generate one into passwordFile (or reuse it). */
  password: string;
  passwordFile: string;
  passwordHashCost: number;
  services: CatalogService[];
}

export interface BootstrapResult {
  domainId: string;
  projectId: string;
  userId: string;
  password: string;
  passwordGenerated: boolean;
}

export const DEFAULT_DOMAIN_ID = 'default';

function readOrCreatePassword(file: string): { password: string; generated: boolean } {
  if (existsSync(file)) return { password: readFileSync(file, 'utf8').trim(), generated: false };
  const password = generateSecret(18);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, password + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { password, generated: true };
}

/**
 * Keystone's `keystone-manage bootstrap`: the default domain, the admin
 * project and user, roles admin ⊃ member ⊃ reader, admin on the project and
 * on the system, the region and the catalog. Safe to run on every start.
 */
export async function bootstrapIdentity(db: Db, opts: BootstrapOptions): Promise<BootstrapResult> {
  const domainId = await store.ensureDomain(db, DEFAULT_DOMAIN_ID, 'Default');
  const admin = await store.ensureRole(db, 'admin');
  const member = await store.ensureRole(db, 'member');
  const reader = await store.ensureRole(db, 'reader');
  await store.ensureImpliedRole(db, admin, member);
  await store.ensureImpliedRole(db, member, reader);
  const projectId = await store.ensureProject(db, opts.projectName, domainId);

  const { password, generated } = opts.password
    ? { password: opts.password, generated: false }
    : readOrCreatePassword(opts.passwordFile);
  const existing = await store.findUser(db, opts.userName, domainId);
  let userId: string;
  if (!existing) {
    userId = await store.createUser(db, opts.userName, domainId, await hashPassword(password, opts.passwordHashCost), projectId);
  } else {
    userId = existing.id;
    if (!(await verifyPassword(password, existing.password_hash))) {
      await store.setUserPassword(db, userId, await hashPassword(password, opts.passwordHashCost));
    }
  }
  await store.ensureAssignment(db, 'UserProject', userId, projectId, admin);
  await store.ensureAssignment(db, 'UserSystem', userId, 'system', admin);

  await store.ensureRegion(db, opts.region);
  for (const svc of opts.services) {
    const serviceId = await store.ensureService(db, svc.type, svc.name);
    for (const iface of ['public', 'internal', 'admin']) {
      await store.ensureEndpoint(db, serviceId, iface, opts.region, svc.url);
    }
  }
  return { domainId, projectId, userId, password, passwordGenerated: generated };
}

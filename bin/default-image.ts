/**
 * The all-in-one's default image (compute.default_image): registered once
 * as a public image of the admin project, as DevStack registers CirrOS, so
 * that a new cloud boots a server at once (with the m1.nano flavor).
 */
import { createFilesystemStore } from '../api/image/data/filesystem.ts';
import { registerImageFile } from '../api/image/images/register-file.ts';
import type { ImageCaller } from '../api/image/images/access.ts';
import { createBodyValidator, loadSpec } from '../api/http/validation.ts';
import { credentialsOf } from '../api/http/auth.ts';
import type { BootstrapResult } from '../api/identity/bootstrap/service.ts';
import type { TokenClaims } from '../lib/tokens/claims.ts';
import { createEnforcer, imageStoreDir, type Runtime } from './runtime.ts';

/** Properties of the test guest, as Glance would hold them for CirrOS. */
const GUEST_PROPERTIES = { hw_disk_bus: 'virtio', hw_vif_model: 'virtio', hw_rng_model: 'virtio', os_type: 'linux', os_distro: 'nubo-guest' };

/** The bootstrapped admin, scoped to the admin project, as the image service's rules see a caller. */
function adminCaller(boot: BootstrapResult): ImageCaller {
  const now = new Date();
  const claims: TokenClaims = {
    user_id: boot.userId,
    user_domain_id: boot.domainId,
    methods: ['password'],
    scope: { type: 'project', project_id: boot.projectId, domain_id: boot.domainId },
    roles: ['admin', 'member', 'reader'].map((name) => ({ id: name, name })),
    audit_ids: [],
    issued_at: now,
    expires_at: new Date(now.getTime() + 3600_000),
  };
  return { auth: { token: '', claims, credentials: credentialsOf(claims) }, projectId: boot.projectId, isAdmin: true };
}

/** Registers compute.default_image unless it is empty, absent or already there; never fails the start. */
export async function registerDefaultImage(rt: Runtime, boot: BootstrapResult): Promise<void> {
  const path = rt.config['compute.default_image'];
  if (!path) return;
  const name = rt.config['compute.default_image_name'];
  const ctx = {
    db: rt.db,
    bus: rt.bus,
    tokens: rt.tokens,
    policy: createEnforcer(rt.config),
    config: rt.config,
    logger: rt.logger,
    validate: createBodyValidator(loadSpec('image')),
    store: createFilesystemStore(imageStoreDir(rt.config), { directIo: rt.config['image.direct_io'] }),
  };
  try {
    const r = await registerImageFile(ctx, adminCaller(boot), {
      path,
      name,
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'public',
      properties: GUEST_PROPERTIES,
    });
    if (r.status === 'missing') rt.logger.warn({ path }, `default image ${path} does not exist: no image registered (build it with test/guest/build.sh)`);
    else if (r.status === 'present') rt.logger.debug({ image_id: r.id, name }, 'default image already registered');
    else rt.logger.info({ image_id: r.id, name, path }, 'default image registered (public)');
  } catch (e) {
    rt.logger.error({ err: e, path, name }, 'could not register the default image');
  }
}

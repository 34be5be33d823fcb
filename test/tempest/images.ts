// The images Tempest's compute tests boot servers from ([compute] image_ref and
// image_ref_alt): two small public raw images uploaded through the cloud's
// Glance API as the admin, as a deployment's tempest.conf would name them.
import { randomBytes } from 'node:crypto';

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; url: string }[];
}

/** An admin token scoped to the admin project, and the public image endpoint from its catalog. */
async function adminSession(authUrl: string, password: string): Promise<{ token: string; imageUrl: string }> {
  const base = authUrl.replace(/\/+$/, '').replace(/\/v3$/, '');
  const res = await fetch(`${base}/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password } } },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`admin authentication failed: ${res.status} ${await res.text()}`);
  const token = res.headers.get('x-subject-token')!;
  const catalog = ((await res.json()) as { token: { catalog: CatalogEntry[] } }).token.catalog;
  const url = catalog.find((c) => c.type === 'image')?.endpoints.find((e) => e.interface === 'public')?.url;
  if (!url) throw new Error('the catalog has no public image endpoint');
  return { token, imageUrl: url.replace(/\/+$/, '') };
}

async function uploadImage(s: { token: string; imageUrl: string }, name: string): Promise<string> {
  const created = await fetch(`${s.imageUrl}/v2/images`, {
    method: 'POST',
    headers: { 'x-auth-token': s.token, 'content-type': 'application/json' },
    body: JSON.stringify({ name, disk_format: 'raw', container_format: 'bare', visibility: 'public' }),
  });
  if (created.status !== 201) throw new Error(`creating image ${name} failed: ${created.status} ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  const put = await fetch(`${s.imageUrl}/v2/images/${id}/file`, {
    method: 'PUT',
    headers: { 'x-auth-token': s.token, 'content-type': 'application/octet-stream' },
    body: randomBytes(64 * 1024),
  });
  if (put.status !== 204) throw new Error(`uploading image ${name} failed: ${put.status} ${await put.text()}`);
  return id;
}

/** Uploads the two images; returns their ids for [compute] image_ref and image_ref_alt. */
export async function uploadTempestImages(authUrl: string, password: string): Promise<{ imageRef: string; imageRefAlt: string }> {
  const s = await adminSession(authUrl, password);
  return { imageRef: await uploadImage(s, 'tempest-image'), imageRefAlt: await uploadImage(s, 'tempest-image-alt') };
}

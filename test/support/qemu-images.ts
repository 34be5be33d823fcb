// A real image API (test/support/image.ts) listening on loopback, for the
// qemu driver's tests: images a driver downloads with GET and uploads (a
// snapshot) with PUT of /v2/images/{id}/file, with the admin's token.
import { readFile } from 'node:fs/promises';
import type { ImageMeta, SnapshotTarget } from '../../compute-driver/driver.ts';
import { testGuestImage } from './guest.ts';
import { startImage, type ImageHarness } from './image.ts';

export interface QemuImages {
  harness: ImageHarness;
  /** http://127.0.0.1:<port> */
  base: string;
  /** A new queued qcow2 image and where a snapshot's data goes (as the compute API makes it for createImage). */
  target(name: string): Promise<SnapshotTarget>;
  /** What a driver's spawn gets for an image (its data from the image API). */
  meta(id: string): ImageMeta;
  /** The image as GET /v2/images/{id} shows it. */
  show(id: string): Promise<Record<string, any>>;
  /** An active image holding the test guest (test/guest/). */
  guest(): Promise<ImageMeta>;
  close(): Promise<void>;
}

export async function startQemuImages(): Promise<QemuImages> {
  const harness = await startImage();
  await harness.app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(harness.app.server.address() as { port: number }).port}`;
  const token = harness.adminToken;
  const fileUrl = (id: string) => `${base}/v2/images/${id}/file`;
  const create = async (name: string) => {
    const r = await harness.call('POST', '/v2/images', { body: { name, disk_format: 'qcow2', container_format: 'bare' } });
    if (r.status !== 201) throw new Error(`image create: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id as string;
  };
  const meta = (id: string): ImageMeta => ({ id, disk_format: 'qcow2', container_format: 'bare', properties: {}, download: { url: fileUrl(id), token } });
  return {
    harness,
    base,
    async target(name) {
      const id = await create(name);
      return { image_id: id, url: fileUrl(id), token };
    },
    meta,
    async show(id) {
      return (await harness.call('GET', `/v2/images/${id}`)).body;
    },
    async guest() {
      const id = await create('nubo-guest');
      const r = await harness.call('PUT', `/v2/images/${id}/file`, { body: await readFile(await testGuestImage()) });
      if (r.status !== 204) throw new Error(`image upload: ${r.status}`);
      return meta(id);
    },
    close: () => harness.close(),
  };
}

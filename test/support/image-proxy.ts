// The real image API listening on loopback, for tests whose compute agents
// run as separate processes and download images over HTTP, behind a
// pass-through proxy that notes each image download (its token and the
// image API's answer) and can cut one short, as an image service that goes
// away mid-download.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createFilesystemStore } from '../../api/image/data/filesystem.ts';
import { imagePolicyDefaults } from '../../api/image/policy-rules.ts';
import { createImageApp } from '../../api/image/server.ts';
import type { ImageContext } from '../../api/image/context.ts';
import { newId } from '../../lib/ids.ts';
import { createLogger } from '../../lib/log.ts';
import { Enforcer } from '../../lib/policy/enforcer.ts';
import { issueUserToken, type ProjectUser } from './compute.ts';
import type { ProcessCloud } from './process-cloud.ts';
import { useAsImageService } from './qemu-api.ts';

/** One GET /v2/images/{id}/file that went through the proxy. */
export interface ImageDownloadSeen {
  imageId: string;
  token: string | undefined;
  /** The image API's status. */
  status: number;
}

export interface ImageApiBehindProxy {
  app: FastifyInstance;
  /** The image API itself (for the test's own uploads). */
  apiUrl: string;
  /** The proxy (listening): what the catalog names. */
  proxy: Server;
  downloads: ImageDownloadSeen[];
  /** Images whose download the proxy ends after the first 64 KiB. */
  cut: Set<string>;
  /** Creates an image (private to the token's project) and uploads `bytes` through the image API; returns its id. */
  upload(token: string, name: string, bytes: Buffer, diskFormat?: string): Promise<string>;
  close(): Promise<void>;
}

const CUT_AFTER = 64 * 1024;

/** Starts the image API (a filesystem store in a temporary directory) and the proxy in front of it. */
export async function startImageApiBehindProxy(deps: Pick<ImageContext, 'db' | 'bus' | 'tokens' | 'config' | 'logger'>): Promise<ImageApiBehindProxy> {
  const storeDir = mkdtempSync(join(tmpdir(), 'nubo-images-'));
  const app = createImageApp({ ...deps, policy: new Enforcer(imagePolicyDefaults), store: createFilesystemStore(storeDir) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const downloads: ImageDownloadSeen[] = [];
  const cut = new Set<string>();

  const proxy: Server = createServer((req, res) => {
    const imageId = req.method === 'GET' ? /^\/v2\/images\/([^/?]+)\/file$/.exec(req.url ?? '')?.[1] : undefined;
    const upstream = request(`${apiUrl}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      if (imageId) downloads.push({ imageId, token: req.headers['x-auth-token'] as string | undefined, status: answer.statusCode ?? 0 });
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (!imageId || !cut.has(imageId) || answer.statusCode !== 200) return void answer.pipe(res);
      answer.once('data', (chunk: Buffer) => {
        res.write(chunk.subarray(0, CUT_AFTER));
        answer.destroy();
        setTimeout(() => res.socket?.destroy(), 100);
      });
    });
    upstream.on('error', () => res.socket?.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));

  return {
    app,
    apiUrl,
    proxy,
    downloads,
    cut,
    async upload(token, name, bytes, diskFormat = 'qcow2') {
      const made = await fetch(`${apiUrl}/v2/images`, {
        method: 'POST',
        headers: { 'x-auth-token': token, 'content-type': 'application/json' },
        body: JSON.stringify({ name, disk_format: diskFormat, container_format: 'bare', visibility: 'private' }),
      });
      if (made.status !== 201) throw new Error(`image create: ${made.status} ${await made.text()}`);
      const { id } = (await made.json()) as { id: string };
      const put = await fetch(`${apiUrl}/v2/images/${id}/file`, { method: 'PUT', headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream' }, body: new Uint8Array(bytes) });
      if (put.status !== 204) throw new Error(`image upload: ${put.status} ${await put.text()}`);
      return id;
    },
    async close() {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
      await app.close();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/**
 * Makes the cloud's image service real: a user with member and reader on the
 * cloud's project (whose servers the conductor issues image tokens for: the
 * project's own token names no real user) and the image API behind its proxy
 * as the catalog's only image endpoint. Create servers with `user.token`.
 */
export async function useRealImageService(cloud: ProcessCloud): Promise<{ images: ImageApiBehindProxy; user: ProjectUser }> {
  const { admin } = cloud.identity;
  const userId = newId();
  await cloud.db('users').insert({ id: userId, name: `u-${userId.slice(0, 8)}`, domain_id: admin.domainId, enabled: true });
  for (const role of ['member', 'reader']) await cloud.db('assignments').insert({ type: 'UserProject', actor_id: userId, target_id: cloud.project.projectId, role_id: admin.roleIds[role] });
  const user = await issueUserToken(cloud.identity, userId, cloud.project.projectId, ['member', 'reader']);
  const images = await startImageApiBehindProxy({ db: cloud.db, bus: cloud.bus, tokens: cloud.identity.tokens, config: cloud.identity.config, logger: createLogger({ level: 'silent' }) });
  await useAsImageService(cloud, images.proxy);
  return { images, user };
}

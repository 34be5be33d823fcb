import type { FastifyInstance } from 'fastify';
import type { ImageContext } from './context.ts';
import { registerImageVersionRoutes } from './version/routes.ts';
import { registerSchemaRoutes } from './schemas/routes.ts';
import { registerImageRoutes } from './images/routes.ts';
import { registerMetadefRoutes } from './metadefs/routes.ts';
import { registerImageDataRoutes } from './data/routes.ts';
import { startUploadSweeper } from './data/sweeper.ts';
import { registerImportRoutes } from './import/routes.ts';
import { registerMemberRoutes } from './members/routes.ts';

/** Mounts every Glance v2 route on an app made by createServiceApp. */
export function registerImage(app: FastifyInstance, ctx: ImageContext): void {
  registerImageVersionRoutes(app);
  registerSchemaRoutes(app, ctx);
  registerImageRoutes(app, ctx);
  registerMetadefRoutes(app, ctx);
  registerImageDataRoutes(app, ctx);
  registerImportRoutes(app, ctx);
  registerMemberRoutes(app, ctx);
  startUploadSweeper(app, ctx);
}

import type { FastifyInstance } from 'fastify';
import type { ImageContext } from '../context.ts';
import { heldLocations, resetStaleWrites } from './rows.ts';

/** How often the sweeper runs. */
export const SWEEP_INTERVAL_MS = 30_000;

export type SweepContext = Pick<ImageContext, 'db' | 'config' | 'logger' | 'store'>;

export interface SweepResult {
  /** Images put back (id and the status they went back to). */
  reset: { id: string; status: string }[];
  /** Store locations removed. */
  removed: string[];
}

/**
 * Cleans up after writers that died (a crash, a restart, a lost database):
 * images whose writer's heartbeat is older than `image.upload_stale_seconds`
 * go back to where a client can retry (see resetStaleWrites), and store
 * objects older than that which no live image holds — temporaries of dead
 * writes, data published just before a crash — are removed. Safe to run
 * from any number of API processes at once.
 */
export async function sweepStaleUploads(ctx: SweepContext, now = Date.now()): Promise<SweepResult> {
  const cutoff = now - ctx.config['image.upload_stale_seconds'] * 1000;
  const reset = await resetStaleWrites(ctx.db, new Date(cutoff));
  const old = (await ctx.store.entries()).filter((e) => e.changedAt < cutoff);
  const held = await heldLocations(ctx.db, old.filter((e) => !e.temporary).map((e) => e.location));
  const removed: string[] = [];
  for (const e of old) {
    if (held.has(e.location)) continue;
    await ctx.store.delete(e.location);
    removed.push(e.location);
  }
  if (reset.length || removed.length) ctx.logger.info({ reset, removed }, 'swept abandoned image uploads');
  return { reset, removed };
}

/** Runs the sweeper when `app` starts and every SWEEP_INTERVAL_MS until it closes. */
export function startUploadSweeper(app: FastifyInstance, ctx: SweepContext): void {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  const run = () => {
    running ??= sweepStaleUploads(ctx)
      .catch((err) => ctx.logger.warn({ err }, 'image upload sweep failed'))
      .finally(() => {
        running = undefined;
      });
  };
  app.addHook('onReady', async () => {
    run();
    timer = setInterval(run, SWEEP_INTERVAL_MS);
    timer.unref();
  });
  app.addHook('onClose', async () => {
    clearInterval(timer);
    await running;
  });
}

import type { Config } from '../../../lib/config/index.ts';
import type { Db } from '../../../lib/db/index.ts';
import type { Logger } from '../../../lib/log.ts';
import { renewLease, type WriteLease } from './rows.ts';

/** How often a writer refreshes its heartbeat: a few times within the staleness limit, at most every 5 s. */
export function heartbeatMs(config: Config): number {
  return Math.max(1000, Math.min(5000, (config['image.upload_stale_seconds'] * 1000) / 4));
}

export interface KeepAlive {
  /** Stops refreshing; resolves once no refresh is in flight (so the lease's beat is settled). */
  stop(): Promise<void>;
}

/**
 * Refreshes `lease` every `intervalMs` until stopped, and `touch`es the
 * writer's unfinished data so that the sweeper sees it alive. When the lease
 * is found lost, `onLost` is called once and refreshing stops. A failed
 * refresh (database unreachable) is only logged: the next one may succeed,
 * and if the outage outlasts the staleness limit the lease is lost anyway.
 */
export function keepAlive(
  deps: { db: Db; logger: Logger },
  lease: WriteLease,
  intervalMs: number,
  opts: { onLost: () => void; touch?: () => Promise<void> },
): KeepAlive {
  let stopped = false;
  let running: Promise<void> | undefined;
  const tick = () => {
    if (stopped || running) return;
    running = (async () => {
      try {
        if (!(await renewLease(deps.db, lease))) {
          stopped = true;
          opts.onLost();
          return;
        }
        await opts.touch?.();
      } catch (err) {
        deps.logger.warn({ err, image_id: lease.imageId }, 'could not refresh the upload heartbeat');
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

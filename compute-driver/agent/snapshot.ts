/**
 * snapshot_instance: Nova's compute manager snapshot_instance and
 * _snapshot_instance, as the agent runs them (rpc.ts SnapshotInstance).
 */
import { NotSupported } from '../driver.ts';
import { deleteImage } from '../image-service.ts';
import type { SnapshotInstance, TaskState } from '../rpc.ts';
import { TaskState as T } from '../states.ts';
import { instanceAction, powerStateOf, quietly, type FlowContext } from './flows.ts';

/** The task states a snapshot moves through, each expected to follow the one before. */
const ORDER: TaskState[] = [T.IMAGE_SNAPSHOT, T.IMAGE_SNAPSHOT_PENDING, T.IMAGE_PENDING_UPLOAD, T.IMAGE_UPLOADING];

export function snapshotInstance(ctx: FlowContext, msg: SnapshotInstance): Promise<void> {
  const { instance, request_id, image } = msg;
  const spec = { instance, requestId: request_id, action: 'createImage', event: 'compute_snapshot_instance' } as const;
  return instanceAction(ctx, spec, async () => {
    let current: TaskState = T.IMAGE_SNAPSHOT;
    /** Moves task_state on, expecting the state it is in (the driver calls this with image_pending_upload, then image_uploading). */
    const updateTaskState = async (next: string) => {
      const to = next as TaskState;
      if (ORDER.indexOf(to) <= ORDER.indexOf(current)) return;
      await ctx.report.save(instance.uuid, request_id, { task_state: to, expected_task_state: [current] });
      current = to;
    };
    try {
      await ctx.report.save(instance.uuid, request_id, {
        power_state: await powerStateOf(ctx.driver, instance),
        task_state: T.IMAGE_SNAPSHOT_PENDING,
        expected_task_state: [T.IMAGE_SNAPSHOT],
      });
      current = T.IMAGE_SNAPSHOT_PENDING;
      if (!ctx.driver.snapshot) throw new NotSupported('snapshot');
      await ctx.driver.snapshot(instance, image, updateTaskState);
    } catch (e) {
      // Nova's delete_image_on_error: a failed snapshot leaves no image behind.
      await quietly(ctx, () => deleteImage(image));
      throw e;
    }
    await ctx.report.save(instance.uuid, request_id, { task_state: null, expected_task_state: [current] });
  });
}

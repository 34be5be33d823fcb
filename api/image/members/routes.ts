import type { FastifyInstance } from 'fastify';
import type { components } from '../../../spec/image.d.ts';
import type { ImageContext } from '../context.ts';
import { callerOf, findVisibleImage } from '../images/access.ts';
import * as members from './service.ts';
import { memberView } from './view.ts';

type CreateRequest = components['schemas']['ImageMemberCreateRequest'];
type UpdateRequest = components['schemas']['ImageMemberUpdateRequest'];
type ImageParams = { image_id: string };
type MemberParams = { image_id: string; member_id: string };

/** Image sharing: /v2/images/{image_id}/members (Image API v2.1+). */
export function registerMemberRoutes(app: FastifyInstance, ctx: ImageContext): void {
  app.get<{ Params: ImageParams }>('/v2/images/:image_id/members', async (request) => {
    const caller = callerOf(request, ctx);
    const visible = await findVisibleImage(ctx, caller, request.params.image_id);
    const rows = await members.listMembers(ctx, caller, visible);
    return { members: rows.map(memberView), schema: '/v2/schemas/members' };
  });

  app.post<{ Params: ImageParams }>('/v2/images/:image_id/members', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate('ImageMemberCreateRequest', request.body);
    const { member } = request.body as CreateRequest;
    const visible = await findVisibleImage(ctx, caller, request.params.image_id);
    return memberView(await members.addMember(ctx, caller, visible, member));
  });

  app.get<{ Params: MemberParams }>('/v2/images/:image_id/members/:member_id', async (request) => {
    const caller = callerOf(request, ctx);
    const visible = await findVisibleImage(ctx, caller, request.params.image_id);
    return memberView(await members.showMember(ctx, caller, visible, request.params.member_id));
  });

  app.put<{ Params: MemberParams }>('/v2/images/:image_id/members/:member_id', async (request) => {
    const caller = callerOf(request, ctx);
    ctx.validate('ImageMemberUpdateRequest', request.body);
    const { status } = request.body as UpdateRequest;
    const visible = await findVisibleImage(ctx, caller, request.params.image_id);
    return memberView(await members.updateMember(ctx, caller, visible, request.params.member_id, status));
  });

  app.delete<{ Params: MemberParams }>('/v2/images/:image_id/members/:member_id', async (request, reply) => {
    const caller = callerOf(request, ctx);
    await members.removeMember(ctx, caller, await findVisibleImage(ctx, caller, request.params.image_id), request.params.member_id);
    return reply.code(204).send();
  });
}

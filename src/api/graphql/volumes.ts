import { ForbiddenError } from '../../actor.js';
import {
  forgetVolume,
  InvalidForgetReasonError,
  InvalidMachineIdError,
  OwnVolumeError,
  UnknownMachineError,
  type ForgetVolumeResult,
} from '../../volumes/forget-volume.js';
import { InvalidParamsError } from '../../errors.js';
import { builder } from './builder.js';
import { asResult, ErrorInterface } from './errors.js';

builder.objectType(UnknownMachineError, {
  name: 'UnknownMachineError',
  description: 'No copy was ever recorded on that machine’s volume.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof UnknownMachineError,
  fields: (t) => ({ machine: t.exposeString('machine') }),
});

builder.objectType(OwnVolumeError, {
  name: 'OwnVolumeError',
  description: 'The machine named is the one answering: its volume is evidently here (pass force to forget it anyway).',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof OwnVolumeError,
  fields: (t) => ({ machine: t.exposeString('machine') }),
});

const ForgetVolumeResultRef = builder.objectRef<ForgetVolumeResult>('ForgetVolumeResult').implement({
  fields: (t) => ({
    machine: t.exposeString('machine'),
    region: t.exposeString('region', { nullable: true }),
    alreadyForgotten: t.exposeBoolean('alreadyForgotten'),
    copiesForgotten: t.exposeInt('copiesForgotten'),
    lost: t.exposeStringList('lost', { description: 'Reports left without any copy: now LOST.' }),
  }),
});

builder.mutationField('forgetVolume', (t) =>
  t.field({
    type: ForgetVolumeResultRef,
    description: 'Admins: a destroyed machine took its volume with it. Its copies are forgotten; reports with no other copy become LOST. Idempotent.',
    authScopes: { admin: true },
    errors: { types: [InvalidParamsError, UnknownMachineError, OwnVolumeError, ForbiddenError] },
    args: {
      machine: t.arg.string(),
      reason: t.arg.string({ required: false }),
      force: t.arg.boolean({ required: false, description: 'Forget the volume of the machine answering this request too.' }),
    },
    resolve: (_, args, ctx) =>
      asResult(async () => {
        try {
          return await forgetVolume(ctx.runtime.store, {
            machine: args.machine,
            ...(args.reason != null ? { reason: args.reason } : {}),
            force: args.force ?? false,
            ownMachine: ctx.runtime.config.machineId,
            actor: ctx.actor.id,
          });
        } catch (err) {
          if (err instanceof InvalidMachineIdError) throw new InvalidParamsError([{ path: 'machine', message: err.message }], err.message);
          if (err instanceof InvalidForgetReasonError) throw new InvalidParamsError([{ path: 'reason', message: err.message }], err.message);
          throw err;
        }
      }),
  }),
);

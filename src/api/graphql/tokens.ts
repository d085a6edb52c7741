import { InvalidRevocationError, type Revocation } from '../../auth/token-revocations.js';
import { ForbiddenError } from '../../actor.js';
import { InvalidParamsError } from '../../errors.js';
import { builder } from './builder.js';

const RevocationRef = builder.objectRef<Revocation>('TokenRevocation').implement({
  description: 'A revocation: one token (jti), or every token of a subject issued up to issuedBefore.',
  fields: (t) => ({
    jti: t.exposeString('jti', { nullable: true }),
    subject: t.exposeString('subject', { nullable: true }),
    issuedBefore: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.issuedBefore }),
    revokedAt: t.field({ type: 'DateTime', resolve: (r) => r.revokedAt }),
    revokedBy: t.exposeString('revokedBy'),
  }),
});

builder.mutationField('revokeTokens', (t) =>
  t.field({
    type: RevocationRef,
    description:
      'Admins: revoke one token (jti) or every token of a subject issued until now (subject); exactly one of the two. ' +
      'Requests and open subscriptions with a revoked token are refused at once on this instance, on the others within TOKEN_REVOCATION_REFRESH_MS.',
    authScopes: { admin: true },
    errors: { types: [InvalidParamsError, ForbiddenError] },
    args: {
      jti: t.arg.string({ required: false }),
      subject: t.arg.string({ required: false }),
    },
    resolve: async (_, args, ctx) => {
      const jti = args.jti ?? undefined;
      const subject = args.subject ?? undefined;
      if ((jti === undefined) === (subject === undefined)) {
        const message = 'give exactly one of jti and subject';
        throw new InvalidParamsError([{ path: jti === undefined ? 'jti' : 'subject', message }], message);
      }
      try {
        return await ctx.runtime.revocations.revoke(jti !== undefined ? { jti } : { subject: subject! }, ctx.actor.id);
      } catch (err) {
        if (err instanceof InvalidRevocationError) throw new InvalidParamsError([{ path: jti !== undefined ? 'jti' : 'subject', message: err.message }], err.message);
        throw err;
      }
    },
  }),
);

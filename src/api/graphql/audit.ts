import { reportAt } from '../../audit/report-at.js';
import { eventProof, EventNotFoundError, NotSealedError, type EventProof } from '../../audit/proof.js';
import { latestSeal, type Seal } from '../../audit/seal.js';
import { PROBLEM_KINDS, verifyLog, type Problem, type VerifyReport } from '../../audit/verify.js';
import { encodeCheckpoint } from '../../events/checkpoint.js';
import { isUuid } from '../../reports/uuid.js';
import { InvalidParamsError } from '../../errors.js';
import { builder } from './builder.js';
import { ErrorInterface } from './errors.js';
import { reportIdFrom, ReportRef } from './reports.js';

const LogDigestRef = builder.objectRef<Seal>('LogDigest').implement({
  description: 'The newest seal of the log: keep sealHash outside quire, and later ask verifyLog(fromDigest) to prove the log still extends it.',
  fields: (t) => ({
    sealHash: t.exposeString('sealHash'),
    position: t.float({ description: 'Global position of the last event sealed.', resolve: (s) => s.last.globalPosition }),
    checkpoint: t.string({ description: 'Commit-order checkpoint of the last event sealed.', resolve: (s) => encodeCheckpoint(s.last) }),
    seq: t.exposeInt('seq'),
    eventCount: t.float({ description: 'Events sealed so far, this seal included.', resolve: (s) => s.total }),
    merkleRoot: t.exposeString('merkleRoot'),
    sealedAt: t.field({ type: 'DateTime', resolve: (s) => s.sealedAt }),
    keyId: t.string({ nullable: true, description: 'Id of the Ed25519 key that signed the seal (null: an unsigned seal from before signing).', resolve: (s) => s.keyId }),
    signature: t.string({ nullable: true, description: 'Ed25519 signature of "quire-seal-v2:" + sealHash, base64url.', resolve: (s) => s.signature }),
    publicKey: t.string({
      nullable: true,
      description: 'The public key (base64url) of keyId, when this instance trusts it. Keep it outside quire with the digest; what this answer says is only as trustworthy as the server.',
      resolve: (s, _, ctx) => ctx.runtime.sealKeys.trusted.find((k) => k.keyId === s.keyId)?.publicKey ?? null,
    }),
  }),
});

const ProblemKindEnum = builder.enumType('LogProblemKind', { values: PROBLEM_KINDS });

const ProblemRef = builder.objectRef<Problem>('LogProblem').implement({
  fields: (t) => ({
    kind: t.field({ type: ProblemKindEnum, resolve: (p) => p.kind }),
    message: t.exposeString('message'),
    position: t.float({ nullable: true, resolve: (p) => p.position }),
    checkpoint: t.string({ nullable: true, resolve: (p) => (p.checkpoint ? encodeCheckpoint(p.checkpoint) : null) }),
    streamId: t.exposeString('streamId', { nullable: true }),
    streamVersion: t.int({ nullable: true, resolve: (p) => p.streamVersion }),
    sealSeq: t.int({ nullable: true, resolve: (p) => p.sealSeq }),
  }),
});

const VerificationRef = builder.objectRef<VerifyReport>('LogVerification').implement({
  description: 'Every stream chain and every seal recomputed from the stored rows.',
  fields: (t) => ({
    ok: t.exposeBoolean('ok'),
    events: t.exposeFloat('events'),
    streams: t.exposeFloat('streams'),
    seals: t.exposeInt('seals'),
    sealedEvents: t.exposeFloat('sealedEvents'),
    checkedThrough: t.string({ description: 'Checkpoint of the last event checked.', resolve: (r) => encodeCheckpoint(r.head) }),
    latestDigest: t.field({ type: LogDigestRef, nullable: true, resolve: (r) => r.latestSeal }),
    extendsDigest: t.boolean({
      nullable: true,
      description: 'With fromDigest: the digest is a seal of this log and nothing at or before it is broken.',
      resolve: (r) => r.digest?.extended ?? null,
    }),
    firstProblem: t.field({ type: ProblemRef, nullable: true, description: 'The first broken place in commit order.', resolve: (r) => r.firstProblem }),
    problems: t.field({ type: [ProblemRef], description: 'The first 100 problems found.', resolve: (r) => r.problems }),
    problemCount: t.exposeFloat('problemCount'),
    durationMs: t.exposeFloat('durationMs'),
  }),
});

builder.objectType(EventNotFoundError, {
  name: 'EventNotFoundError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof EventNotFoundError,
  fields: (t) => ({ globalPosition: t.exposeFloat('globalPosition') }),
});

builder.objectType(NotSealedError, {
  name: 'NotSealedError',
  description: 'The event exists but no seal covers it yet.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof NotSealedError,
  fields: (t) => ({ globalPosition: t.exposeFloat('globalPosition') }),
});

const ProofSealRef = builder.objectRef<EventProof['seal']>('ProofSeal').implement({
  fields: (t) => ({
    seq: t.exposeInt('seq'),
    first: t.exposeString('first'),
    last: t.exposeString('last'),
    count: t.exposeInt('count'),
    total: t.exposeFloat('total'),
    merkleRoot: t.exposeString('merkleRoot'),
    prevSealHash: t.exposeString('prevSealHash'),
    sealedAt: t.exposeString('sealedAt', { description: 'Exactly as hashed (ISO 8601, milliseconds, UTC).' }),
    sealHash: t.exposeString('sealHash'),
  }),
});

const EventProofRef = builder.objectRef<EventProof>('EventProof').implement({
  description:
    'Inclusion proof of one event in its seal, checkable offline (`quire audit check-proof`): recompute the event hash from `event`, ' +
    'leaf = sha256(0x00 || hash bytes), fold `path` per RFC 9162 §2.1.3.2 from leafIndex in a tree of treeSize to seal.merkleRoot, ' +
    'and recompute seal.sealHash from the seal fields.',
  fields: (t) => ({
    event: t.field({ type: 'JSON', description: 'The event exactly as hashed.', resolve: (p) => p.event }),
    leafIndex: t.exposeInt('leafIndex'),
    treeSize: t.exposeInt('treeSize'),
    path: t.exposeStringList('path'),
    seal: t.field({ type: ProofSealRef, resolve: (p) => p.seal }),
    document: t.field({ type: 'JSON', description: 'The whole proof as one JSON document (what check-proof reads).', resolve: (p) => p }),
  }),
});

builder.queryField('logDigest', (t) =>
  t.field({
    type: LogDigestRef,
    nullable: true,
    description: 'The newest seal (auditors); null until the first seal.',
    authScopes: { auditor: true },
    resolve: (_, __, ctx) => latestSeal(ctx.runtime.store.db),
  }),
);

/** A full verify reads the whole log: one at a time per instance. */
let verifying: Promise<unknown> = Promise.resolve();

builder.queryField('verifyLog', (t) =>
  t.field({
    type: VerificationRef,
    description: 'Recompute every stream chain and every seal (auditors). Reads the whole log: runs one at a time per instance.',
    authScopes: { auditor: true },
    args: { fromDigest: t.arg.string({ required: false, description: 'A seal hash kept earlier: prove the log extends it.' }) },
    resolve: async (_, args, ctx) => {
      if (args.fromDigest && !/^[0-9a-fA-F]{64}$/.test(args.fromDigest)) {
        throw new InvalidParamsError([{ path: 'fromDigest', message: 'a seal hash: 64 hex digits' }], 'invalid digest');
      }
      const run = verifying.then(() => verifyLog(ctx.runtime.store.db, { cursor: ctx.runtime.database.kind === 'postgres', publicKeys: ctx.runtime.sealKeys.trusted, ...(args.fromDigest ? { fromDigest: args.fromDigest } : {}) }));
      verifying = run.catch(() => undefined);
      return run;
    },
  }),
);

builder.queryField('eventProof', (t) =>
  t.field({
    type: EventProofRef,
    description: 'The Merkle path from an event to its seal (auditors).',
    authScopes: { auditor: true },
    errors: { types: [EventNotFoundError, NotSealedError] },
    args: { globalPosition: t.arg.float() },
    resolve: (_, args, ctx) => {
      if (!Number.isSafeInteger(args.globalPosition) || args.globalPosition < 1) throw new EventNotFoundError(args.globalPosition);
      return eventProof(ctx.runtime.store.db, args.globalPosition);
    },
  }),
);

builder.queryField('reportAt', (t) =>
  t.field({
    type: ReportRef,
    nullable: true,
    description:
      'A report as it was at a point of the log (auditors): after the event at `position` in commit order, or at the instant `at`. ' +
      'Null when it did not exist then. Give exactly one of the two.',
    authScopes: { auditor: true },
    errors: { types: [InvalidParamsError, EventNotFoundError] },
    args: {
      id: t.arg.id(),
      position: t.arg.float({ required: false }),
      at: t.arg({ type: 'DateTime', required: false }),
    },
    resolve: async (_, args, ctx) => {
      const id = reportIdFrom(String(args.id));
      const hasPosition = args.position !== null && args.position !== undefined;
      if (hasPosition === !!args.at) {
        throw new InvalidParamsError([{ path: hasPosition ? 'at' : 'position', message: 'give exactly one of position and at' }], 'give exactly one of position and at');
      }
      if (!isUuid(id)) return null;
      if (hasPosition) {
        if (!Number.isSafeInteger(args.position) || args.position! < 1) throw new EventNotFoundError(args.position!);
        return reportAt(ctx.runtime.store.db, ctx.runtime.store.personalData, id, { position: args.position! });
      }
      return reportAt(ctx.runtime.store.db, ctx.runtime.store.personalData, id, { at: args.at! });
    },
  }),
);

import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { checkExport, exportLines } from '../audit/export.js';
import { checkProof, eventProof } from '../audit/proof.js';
import { rebuildAndVerifyProjections } from '../projections/rebuild-verify.js';
import { reportAt } from '../audit/report-at.js';
import { latestSeal, sealPending } from '../audit/seal.js';
import { describeProblem, verifyLog, type VerifyReport } from '../audit/verify.js';
import { loadConfig, type Config } from '../config.js';
import { configuredPersonalData } from '../reports/personal-data.js';
import { checkPublishedSeals, mergePublishedCheck, SealPublisher, type PublishedCheck } from '../audit/published-seals.js';
import { configuredPublicKeys, configuredSealKeys, generateSealKey, sealPublicKeyFrom } from '../audit/seal-key.js';
import type { SealTrust } from '../audit/seal.js';
import { createObjectStore } from '../runtime.js';
import { FileTokens } from '../storage/file-token.js';
import { encodeCheckpoint } from '../events/checkpoint.js';
import { rebuildProjections } from '../projections/rebuild.js';
import { CLI_EXIT } from './exit-codes.js';
import { printJson, withDatabase } from './open.js';

async function writeLines(out: Writable, lines: AsyncIterable<string>): Promise<void> {
  for await (const line of lines) {
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
}

function readLines(file: string): AsyncIterable<string> {
  const input = file === '-' ? process.stdin : createReadStream(file, { encoding: 'utf8' });
  return createInterface({ input, crlfDelay: Infinity });
}

/** The configured object store for reading and writing seal digests (this command never signs a download link). */
function cliObjectStore(config: Config) {
  return createObjectStore(config, new FileTokens(new Uint8Array(32)));
}

/** 3,4,5,9 → "3–5, 9". */
function rangeText(seqs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < seqs.length; ) {
    let j = i;
    while (j + 1 < seqs.length && seqs[j + 1] === seqs[j]! + 1) j++;
    out.push(i === j ? `${seqs[i]}` : `${seqs[i]}–${seqs[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

function fail(message: string, code: number = CLI_EXIT.usage): never {
  console.error(message);
  process.exit(code);
}

const HASH = /^[0-9a-fA-F]{64}$/;

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The keys a check trusts: the ones given with --public-key (what an auditor kept), else the
 * deployment's own (SEAL_SIGNING_KEY / SEAL_PUBLIC_KEYS / the development key), with a note:
 * a check against keys read from the operator's configuration proves less.
 */
function trustFrom(options: { publicKey?: string[]; legacySeals?: string }): SealTrust {
  let legacySeals = 0;
  if (options.legacySeals !== undefined) {
    if (!/^\d{1,12}$/.test(options.legacySeals)) fail('--legacy-seals must be a seal count');
    legacySeals = Number(options.legacySeals);
  }
  try {
    if (options.publicKey?.length)
      return {
        publicKeys: options.publicKey.map(sealPublicKeyFrom),
        legacySeals,
      };
  } catch (err) {
    fail(`--public-key: ${(err as Error).message}`);
  }
  const publicKeys = configuredPublicKeys(loadConfig());
  if (process.stderr.isTTY || publicKeys.length === 0) {
    console.error(publicKeys.length ? `checking signatures with the configured key(s) ${publicKeys.map((k) => k.keyId).join(', ')}; pass --public-key <the key you kept> to check against your own copy` : 'no public key given (--public-key) or configured: signed seals cannot be checked');
  }
  return { publicKeys, legacySeals };
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('seals, verification, proofs and exports of the event log (auditors)');

  audit
    .command('verify')
    .description('recompute every stream chain and every seal; exit 1 and name the first broken position if anything is wrong')
    .option('--digest <sealHash>', 'a digest kept earlier: prove the current log extends it')
    .option('--public-key <key>', 'an Ed25519 public key (base64url) whose seals you trust; repeat after a key rotation (default: the configured keys)', collect)
    .option('--legacy-seals <n>', 'accept seals 1..n unsigned: they were written before seals were signed (count them once, at the upgrade)')
    .option('--against-store', 'also check the log against every digest published to the object store (seals/<seq>.json)')
    .option('--json', 'print the whole report as JSON')
    .action(async (options: { digest?: string; json?: boolean; publicKey?: string[]; legacySeals?: string; againstStore?: boolean }) => {
      if (options.digest && !HASH.test(options.digest)) fail('--digest must be a seal hash (64 hex digits)');
      const trust = trustFrom(options);
      const report: VerifyReport & { published?: PublishedCheck } = await withDatabase(async (d) => {
        const verified = await verifyLog(d.db, {
          ...trust,
          cursor: d.kind === 'postgres',
          ...(options.digest ? { fromDigest: options.digest } : {}),
          onProgress: (n) => {
            if (process.stderr.isTTY && n % 100_000 < 2000) process.stderr.write(`\r${n} events checked`);
          },
        });
        if (!options.againstStore) return verified;
        const config = loadConfig();
        const published = await checkPublishedSeals(d.db, cliObjectStore(config), trust);
        return mergePublishedCheck(verified, published);
      });
      if (process.stderr.isTTY) process.stderr.write('\r');
      if (options.json) printJson(report);
      else {
        console.log(`${report.ok ? 'OK' : 'BROKEN'}: ${report.events} events in ${report.streams} streams, ${report.seals} seals (${report.sealedEvents} events sealed), checked through ${encodeCheckpoint(report.head)} in ${report.durationMs} ms`);
        if (report.latestSeal) console.log(`latest digest: ${report.latestSeal.sealHash} (seal ${report.latestSeal.seq}, position ${report.latestSeal.last.globalPosition})`);
        if (report.digest) console.log(`digest ${report.digest.sealHash}: ${report.digest.extended ? `extended (seal ${report.digest.seq})` : report.digest.found ? 'found, but history up to it is broken' : 'NOT a seal of this log'}`);
        if (report.published) {
          const p = report.published;
          console.log(`published digests: ${p.published} in the object store, ${p.matched} match the log${p.unpublished.length ? `; seals not published yet: ${rangeText(p.unpublished)}` : ''}`);
        }
        if (report.firstProblem) console.log(`first problem: ${describeProblem(report.firstProblem)}`);
        for (const p of report.problems.slice(0, 20)) console.log(`  ${describeProblem(p)}`);
        if (report.problemCount > 20) console.log(`  … ${report.problemCount - 20} more (--json lists ${report.problems.length})`);
      }
      process.exitCode = report.ok ? CLI_EXIT.ok : CLI_EXIT.problem;
    });

  audit
    .command('seal')
    .description("seal every unsealed event now (the server's sealer does this on its own)")
    .option('--max-events <n>', 'events per seal (default SEAL_EVERY_EVENTS)')
    .option('--json', 'print the seals written as JSON')
    .action(async (options: { maxEvents?: string; json?: boolean }) => {
      const maxEvents = options.maxEvents ? Number(options.maxEvents) : loadConfig().sealer.everyEvents;
      if (!Number.isInteger(maxEvents) || maxEvents < 1) fail('--max-events must be a positive integer');
      const config = loadConfig();
      const { signer } = configuredSealKeys(config);
      const seals = await withDatabase(async (d) => {
        const written = await sealPending(d.db, { signer, maxEvents });
        if (config.seals.publish && written.length > 0) {
          await new SealPublisher(d.db, cliObjectStore(config)).publishPending();
        }
        return written;
      });
      const last = seals.at(-1);
      if (options.json)
        printJson({
          written: seals.length,
          latest: last ? { sealHash: last.sealHash, seq: last.seq, eventCount: last.total } : null,
        });
      else console.log(last ? `${seals.length} seal(s) written; digest ${last.sealHash} (seal ${last.seq}, ${last.total} events)` : 'nothing to seal (or another sealer holds the lock)');
    });

  audit
    .command('digest')
    .description('print the newest seal as JSON: the digest to keep outside quire; exit 1 if the log has no seal yet')
    .option('--json', 'accepted for symmetry: the answer is always one JSON document')
    .action(async () => {
      const seal = await withDatabase((d) => latestSeal(d.db));
      if (!seal) {
        printJson({ sealed: false });
        fail('the log has no seal yet', CLI_EXIT.problem);
      }
      const key = configuredPublicKeys(loadConfig()).find((k) => k.keyId === seal.keyId);
      printJson({
        sealHash: seal.sealHash,
        seq: seal.seq,
        position: seal.last.globalPosition,
        checkpoint: encodeCheckpoint(seal.last),
        eventCount: seal.total,
        sealedAt: seal.sealedAt,
        keyId: seal.keyId,
        // Keep this with the digest: verify, check-proof and import-check take it as --public-key.
        publicKey: key?.publicKey ?? null,
        signature: seal.signature,
      });
    });

  audit
    .command('proof')
    .description('print the inclusion proof of the event at a global position (JSON, for check-proof)')
    .argument('<position>', 'global position')
    .option('--json', 'accepted for symmetry: the answer is always one JSON document')
    .action(async (position: string) => {
      if (!/^\d{1,16}$/.test(position)) fail('position must be a global position');
      const proof = await withDatabase((d) => eventProof(d.db, Number(position)));
      printJson(proof);
    });

  audit
    .command('check-proof')
    .description('check an inclusion proof offline (no database): event hash, Merkle path, seal hash')
    .argument('<file>', 'the proof JSON (eventProof.document or `quire audit proof`), or - for stdin')
    .option('--digest <sealHash>', 'also require the seal to be this digest')
    .option('--public-key <key>', 'an Ed25519 public key (base64url) whose seals you trust; repeatable (default: the configured keys)', collect)
    .option('--json', 'print the result as JSON: ok, sealHash, seq, failures')
    .action(async (file: string, options: { digest?: string; publicKey?: string[]; json?: boolean }) => {
      const trust = trustFrom(options);
      let proof: unknown;
      try {
        proof = JSON.parse(file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8'));
      } catch (err) {
        fail(`cannot read ${file}: ${(err as Error).message}`);
      }
      const result = checkProof(proof, {
        ...trust,
        ...(options.digest ? { digest: options.digest } : {}),
      });
      const seq = (proof as { seal?: { seq?: unknown } } | null)?.seal?.seq ?? null;
      if (options.json) printJson({ ...result, seq });
      else if (result.ok) console.log(`OK: the event is in seal ${seq}, seal hash ${result.sealHash}`);
      else for (const f of result.failures) console.log(`FAILED: ${f}`);
      process.exitCode = result.ok ? CLI_EXIT.ok : CLI_EXIT.problem;
    });

  audit
    .command('export')
    .description('stream the log as NDJSON in commit order, with hashes and seals (constant memory)')
    .option('--after <position>', 'only events after this global position (or "<xid>:<position>" checkpoint)')
    .option('--stream <id>', 'only this stream')
    .option('-o, --output <file>', 'write here instead of stdout')
    .action(async (options: { after?: string; stream?: string; output?: string }) => {
      const out = options.output ? createWriteStream(options.output) : process.stdout;
      await withDatabase((d) =>
        writeLines(
          out,
          exportLines(d.db, {
            ...(options.after ? { after: options.after } : {}),
            ...(options.stream ? { streamId: options.stream } : {}),
          }),
        ),
      );
      if (options.output) await new Promise<void>((resolve, reject) => (out as ReturnType<typeof createWriteStream>).end((err?: Error | null) => (err ? reject(err) : resolve())));
    });

  audit
    .command('import-check')
    .description('verify an export offline, with no database')
    .argument('<file>', 'the NDJSON export, or - for stdin')
    .option('--digest <sealHash>', 'also require this digest to be a seal in the export')
    .option('--public-key <key>', 'an Ed25519 public key (base64url) whose seals you trust; repeatable (default: the configured keys)', collect)
    .option('--legacy-seals <n>', 'accept seals 1..n unsigned (written before seals were signed)')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        file: string,
        options: {
          digest?: string;
          publicKey?: string[];
          legacySeals?: string;
          json?: boolean;
        },
      ) => {
        const trust = trustFrom(options);
        const result = await checkExport(readLines(file), {
          ...trust,
          ...(options.digest ? { digest: options.digest } : {}),
        });
        process.exitCode = result.ok ? CLI_EXIT.ok : CLI_EXIT.problem;
        if (options.json) return printJson(result);
        console.log(`${result.ok ? 'OK' : 'BROKEN'}: ${result.events} events, ${result.seals} seals${result.lastSealHash ? `, last seal ${result.lastSealHash}` : ''}`);
        for (const p of result.problems.slice(0, 20)) console.log(`  line ${p.line}${p.position !== null ? `, position ${p.position}` : ''}: ${p.message}`);
        if (result.problemCount > 20) console.log(`  … ${result.problemCount - 20} more`);
      },
    );

  audit
    .command('keygen')
    .description('print a new Ed25519 seal signing key (for SEAL_SIGNING_KEY) and its public key (for auditors)')
    .action(() => {
      const { privateKey, signer } = generateSealKey();
      console.log(`SEAL_SIGNING_KEY=${privateKey}`);
      console.log(`# public key (give it to auditors; --public-key): ${signer.publicKey}`);
      console.log(`# key id: ${signer.keyId}`);
    });

  audit
    .command('report-at')
    .description('a report as it was at a global position or an instant, folded from its events')
    .argument('<reportId>')
    .option('--position <n>', 'after the event at this global position (commit order)')
    .option('--at <time>', 'at this ISO 8601 instant')
    .option('--json', 'accepted for symmetry: the answer is always one JSON document')
    .action(async (reportId: string, options: { position?: string; at?: string }) => {
      if (!!options.position === !!options.at) fail('give exactly one of --position and --at');
      const at = options.at ? new Date(options.at) : undefined;
      if (at && Number.isNaN(at.getTime())) fail('--at must be an ISO 8601 time');
      if (options.position && !/^\d{1,16}$/.test(options.position)) fail('--position must be a global position');
      const state = await withDatabase((d, config) => reportAt(d.db, configuredPersonalData(config), reportId, at ? { at } : { position: Number(options.position) }));
      printJson(state);
    });
}

export function registerProjectionCommands(program: Command): void {
  const projections = program.command('projections').description('projections of the event log');
  projections
    .command('rebuild')
    .description('replay the log into the projections; with --verify, into scratch tables, diffed with the live ones (nothing changes)')
    .option('--verify', 'rebuild into scratch tables and report every difference from the live tables; exit 1 if any')
    .option('--json', 'print the result as JSON')
    .action(async (options: { verify?: boolean; json?: boolean }) => {
      if (!options.verify) {
        const result = await withDatabase((d, config) => rebuildProjections(d.db, configuredPersonalData(config)));
        if (options.json) printJson(result);
        else console.log(`rebuilt ${result.reports} reports from ${result.events} events`);
        return;
      }
      const result = await withDatabase((d, config) => rebuildAndVerifyProjections(d.db, configuredPersonalData(config)));
      process.exitCode = result.differenceCount === 0 ? CLI_EXIT.ok : CLI_EXIT.problem;
      if (options.json) return printJson({ ok: result.differenceCount === 0, ...result });
      console.log(`${result.differenceCount === 0 ? 'OK' : 'DIFFERENT'}: rebuilt ${result.reports} reports from ${result.events} events; ${result.differenceCount} difference(s)`);
      for (const d of result.differences.slice(0, 20)) console.log(`  ${d.table} ${d.key}:\n    live:    ${JSON.stringify(d.live)}\n    rebuilt: ${JSON.stringify(d.rebuilt)}`);
    });
}

import { InvalidArgumentError, type Command } from 'commander';
import { configuredPersonalData } from '../reports/personal-data.js';
import { rotateDataKeys } from '../reports/rotate-data-keys.js';
import { CLI_EXIT } from './exit-codes.js';
import { printJson, withDatabase } from './open.js';

function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`a whole number from ${min} to ${max}`);
    return n;
  };
}

async function rotate(options: { batchSize: number; pauseMs: number; json?: boolean }): Promise<void> {
  const result = await withDatabase((database, config) =>
    rotateDataKeys(database.db, configuredPersonalData(config), {
      batchSize: options.batchSize,
      pauseMs: options.pauseMs,
      // Progress on stderr: stdout carries the answer.
      onBatch: (rotated) => console.error(`keys rotate: ${rotated} data key(s) re-wrapped`),
    }),
  );
  if (options.json) printJson(result);
  else {
    const total = Object.values(result.keysByKek).reduce((a, b) => a + b, 0);
    console.log(`re-wrapped ${result.rotated} data key(s) with key-encryption key ${result.kekId}; ${result.keysByKek[result.kekId] ?? 0} of ${total} are wrapped with it`);
    for (const key of result.unrotated) console.error(`not re-wrapped: report ${key.reportId} (key-encryption key ${key.kekId}): ${key.why}`);
    if (!result.complete) {
      console.error(
        'keys remain wrapped with another key-encryption key: set DATA_ENCRYPTION_KEY_PREVIOUS to the key that wrapped them ' +
          '(or, if they keep appearing, finish deploying DATA_ENCRYPTION_KEY to every instance) and run this again',
      );
    }
  }
  // Not complete: the old key is still needed, which is the problem the operator has to act on.
  process.exitCode = result.complete ? CLI_EXIT.ok : CLI_EXIT.problem;
}

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('the key-encryption key that wraps every report\'s data key (DATA_ENCRYPTION_KEY)');
  keys
    .command('rotate')
    .description(
      're-wrap every report\'s data key with DATA_ENCRYPTION_KEY, unwrapping those still wrapped with DATA_ENCRYPTION_KEY_PREVIOUS; ' +
        'idempotent and resumable (run it again after an interruption). Exit 0: every key is wrapped with DATA_ENCRYPTION_KEY; ' +
        '1: some are not (their key-encryption key is not configured here); 2 usage; 3 database unreachable',
    )
    .option('--batch-size <n>', 'keys re-wrapped per transaction', wholeNumber(1, 10_000), 500)
    .option('--pause-ms <ms>', 'pause between batches, to spare a busy database', wholeNumber(0, 60_000), 0)
    .option('--json', 'answer with one JSON object on stdout: {kekId, rotated, keysByKek, unrotated, complete}')
    .action(rotate);
}

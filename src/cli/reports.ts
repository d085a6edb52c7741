import type { Command } from 'commander';
import { QuireError } from '../errors.js';
import { deleteReport } from '../reports/delete-report.js';
import { eraseReport } from '../reports/erase-report.js';
import type { ReportState } from '../reports/report-state.js';
import { canonicalUuid } from '../reports/uuid.js';
import type { Runtime } from '../runtime.js';
import { CLI_EXIT } from './exit-codes.js';
import { printJson, withRuntime } from './open.js';

/** Operators act as an admin named for the command (the actor in the log). */
const OPERATOR = { id: 'cli:reports', role: 'admin' } as const;

/** A refusal (unknown id, held, gone, not erasable) exits like a usage error: nothing changed (src/cli/exit-codes.ts). */
const REFUSED = CLI_EXIT.usage;

/**
 * Runs one report command and answers: a line for people, or with `--json` one object on stdout
 * for scripts ({reportId, status, copiesToPurge}, or {error: {code, message}} when refused).
 */
async function answer(name: string, json: boolean | undefined, command: (runtime: Runtime) => Promise<ReportState>, done: (state: ReportState) => string): Promise<void> {
  await withRuntime(async (runtime) => {
    try {
      const state = await command(runtime);
      if (json) printJson({ reportId: state.reportId, status: state.status, copiesToPurge: state.locations.length });
      else console.log(done(state));
    } catch (err) {
      // Anything else (the database unreachable) is the CLI's operational failure, exit 3.
      if (!(err instanceof QuireError)) throw err;
      if (json) printJson({ error: { code: err.code, message: err.message } });
      else console.error(`quire reports ${name}: ${err.message}`);
      process.exitCode = REFUSED;
    }
  });
}

function deleteCommand(reportId: string, options: { reason?: string; json?: boolean }): Promise<void> {
  return answer(
    'delete',
    options.json,
    (runtime) => deleteReport(runtime.store, canonicalUuid(reportId), OPERATOR, options.reason === undefined ? {} : { reason: options.reason }),
    (state) => `deleted: ${state.reportId} (${state.locations.length} copie(s) to purge; the workers' purge stage removes them)`,
  );
}

function eraseCommand(reportId: string, options: { reason: string; json?: boolean }): Promise<void> {
  return answer(
    'erase',
    options.json,
    (runtime) => eraseReport(runtime.store, canonicalUuid(reportId), options.reason, OPERATOR),
    (state) => `erased: ${state.reportId} (its data key is deleted; ${state.locations.length} copie(s) to purge; the workers' purge stage removes them)`,
  );
}

const JSON_OPTION = 'answer with one JSON object on stdout: {reportId, status, copiesToPurge}, or {error: {code, message}} when refused';

export function registerReportCommands(program: Command): void {
  const reports = program.command('reports').description('reports, as an operator (exit codes: 0 done, 2 usage or refused: nothing changed, 3 database unreachable)');
  // A usage error (no --reason, an unknown option) exits 2 like a refusal, not commander's 1.
  // Set before the subcommands are added: they inherit it.
  reports.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : REFUSED));
  reports
    .command('delete')
    .argument('<id>', 'the report’s UUID')
    .description('delete a report (as an admin): GONE at once, every copy purged by the workers; refused while under legal hold')
    .option('--reason <text>', 'why (kept in the log, at most 500 characters)')
    .option('--json', JSON_OPTION)
    .action(deleteCommand);
  reports
    .command('erase')
    .argument('<id>', 'the report’s UUID')
    .description('erase a report’s personal data (as an admin): its data key is deleted, ReportErased appended, every copy purged; the log still verifies; refused while under legal hold')
    .requiredOption('--reason <text>', 'why (kept in the log: no personal data; at most 500 characters)')
    .option('--json', JSON_OPTION)
    .action(eraseCommand);
}

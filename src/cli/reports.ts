import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { QuireError } from '../errors.js';
import { deleteReport } from '../reports/delete-report.js';
import { eraseReport } from '../reports/erase-report.js';
import { canonicalUuid } from '../reports/uuid.js';
import { startRuntime } from '../runtime.js';

/** Operators act as an admin named for the command (the actor in the log). */
const OPERATOR = { id: 'cli:reports', role: 'admin' } as const;

async function deleteCommand(reportId: string, options: { reason?: string }): Promise<void> {
  const runtime = await startRuntime(loadConfig());
  try {
    const state = await deleteReport(runtime.store, canonicalUuid(reportId), OPERATOR, options.reason === undefined ? {} : { reason: options.reason });
    console.log(`deleted: ${state.reportId} (${state.locations.length} copie(s) to purge; the workers' purge stage removes them)`);
  } catch (err) {
    if (!(err instanceof QuireError)) throw err;
    console.error(`quire reports delete: ${err.message}`);
    process.exitCode = 2;
  } finally {
    await runtime.close();
  }
}

async function eraseCommand(reportId: string, options: { reason: string }): Promise<void> {
  const runtime = await startRuntime(loadConfig());
  try {
    const state = await eraseReport(runtime.store, canonicalUuid(reportId), options.reason, OPERATOR);
    console.log(`erased: ${state.reportId} (its data key is deleted; ${state.locations.length} copie(s) to purge; the workers' purge stage removes them)`);
  } catch (err) {
    if (!(err instanceof QuireError)) throw err;
    console.error(`quire reports erase: ${err.message}`);
    process.exitCode = 2;
  } finally {
    await runtime.close();
  }
}

export function registerReportCommands(program: Command): void {
  const reports = program.command('reports').description('reports, as an operator');
  reports
    .command('delete')
    .argument('<id>', 'the report’s UUID')
    .description('delete a report (as an admin): GONE at once, every copy purged by the workers; refused while under legal hold')
    .option('--reason <text>', 'why (kept in the log, at most 500 characters)')
    .action(deleteCommand);
  reports
    .command('erase')
    .argument('<id>', 'the report’s UUID')
    .description('erase a report’s personal data (as an admin): its data key is deleted, ReportErased appended, every copy purged; the log still verifies; refused while under legal hold')
    .requiredOption('--reason <text>', 'why (kept in the log: no personal data; at most 500 characters)')
    .action(eraseCommand);
}

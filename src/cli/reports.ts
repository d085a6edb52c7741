import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { QuireError } from '../errors.js';
import { eraseReport } from '../reports/erase-report.js';
import { startRuntime } from '../runtime.js';

/** Whoever runs the CLI operates the deployment: an admin, recorded as `cli:reports`. */
const OPERATOR = { id: 'cli:reports', role: 'admin' } as const;

async function eraseCommand(reportId: string, options: { reason: string }): Promise<void> {
  const runtime = await startRuntime(loadConfig());
  try {
    const state = await eraseReport(runtime.store, reportId, options.reason, OPERATOR);
    console.log(`erased: report ${state.reportId} (its data key is deleted; its files are purged by the purge stage)`);
  } catch (err) {
    if (!(err instanceof QuireError)) throw err;
    console.error(`quire reports erase: ${err.message}`);
    process.exitCode = 2;
  } finally {
    await runtime.close();
  }
}

export function registerReportCommands(program: Command): void {
  const reports = program.command('reports').description('one report’s life: erasure');
  reports
    .command('erase')
    .argument('<id>', 'the report id')
    .description('erase a report’s personal data (title, params): its data key is deleted, ReportErased is appended, its files are purged; the log still verifies')
    .requiredOption('--reason <text>', 'why (kept in the log: no personal data)')
    .action(eraseCommand);
}

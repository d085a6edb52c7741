import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { QuireError } from '../errors.js';
import { forgetVolume } from '../volumes/forget-volume.js';
import { CLI_EXIT } from './exit-codes.js';
import { printJson, withRuntime } from './open.js';

async function forgetCommand(machine: string, options: { reason?: string; force?: boolean; json?: boolean }): Promise<void> {
  const config = loadConfig();
  await withRuntime(async (runtime) => {
    try {
      const r = await forgetVolume(runtime.store, {
        machine,
        ...(options.reason !== undefined ? { reason: options.reason } : {}),
        force: options.force ?? false,
        ownMachine: config.machineId,
        actor: 'cli:volumes',
      });
      if (options.json) return printJson(r);
      const where = r.region ? ` (${r.region})` : '';
      console.log(`${r.alreadyForgotten ? 'already forgotten' : 'forgotten'}: the volume of ${r.machine}${where}; ${r.copiesForgotten} copie(s) removed, ${r.lost.length} report(s) now LOST`);
      for (const id of r.lost) console.log(`  LOST ${id}`);
    } catch (err) {
      if (!(err instanceof QuireError)) throw err;
      console.error(`quire volumes forget: ${err.message}`);
      process.exitCode = CLI_EXIT.usage;
    }
  });
}

export function registerVolumeCommands(program: Command): void {
  const volumes = program.command('volumes').description('the machines’ volumes (REPORTS_DIR): each belongs to one machine');
  volumes
    .command('forget')
    .argument('<machine>', 'the machine id (FLY_MACHINE_ID) whose volume is gone')
    .description('record that a destroyed machine took its volume with it: its copies are forgotten; reports with no other copy become LOST (admins)')
    .option('--reason <text>', 'why (kept in the log)')
    .option('--force', 'allow forgetting the volume of the machine this command runs on')
    .option('--json', 'print the outcome as JSON')
    .action(forgetCommand);
}

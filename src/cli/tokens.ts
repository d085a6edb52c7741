import type { Command } from 'commander';
import { InvalidRevocationError } from '../auth/token-revocations.js';
import { CLI_EXIT } from './exit-codes.js';
import { withRuntime } from './open.js';

async function revokeCommand(options: { jti?: string; subject?: string }): Promise<void> {
  if ((options.jti === undefined) === (options.subject === undefined)) {
    console.error('usage: quire token revoke --jti <id> | --subject <sub>');
    process.exitCode = CLI_EXIT.usage;
    return;
  }
  await withRuntime(async (runtime) => {
    try {
      const r = await runtime.revocations.revoke(options.jti !== undefined ? { jti: options.jti } : { subject: options.subject! }, 'cli:token');
      console.log(r.jti !== null ? `revoked: the token ${r.jti}` : `revoked: every token of ${r.subject} issued up to ${r.issuedBefore?.toISOString()} (tokens signed from the next second on are valid)`);
      console.log(`running instances refuse it within TOKEN_REVOCATION_REFRESH_MS (${runtime.config.tokenRevocationRefreshMs} ms)`);
    } catch (err) {
      if (!(err instanceof InvalidRevocationError)) throw err;
      console.error(`quire token revoke: ${err.message}`);
      process.exitCode = CLI_EXIT.usage;
    }
  });
}

/** `quire token revoke`: a subcommand of `quire token` (which signs tokens). */
export function registerTokenRevokeCommand(token: Command): void {
  token
    .command('revoke')
    .description('revoke one token (--jti, printed by `quire token`) or every token of a subject issued until now (--subject)')
    .option('--jti <id>', 'the token id (its jti claim)')
    .option('--subject <sub>', 'the user id: every token issued to it until now')
    .action(revokeCommand);
}

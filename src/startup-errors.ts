import { ConfigError } from './config.js';

/**
 * Start-up failures a person can fix, each with one or two lines that name the variable, say what
 * was found and what to do, and an exit code of its own (documented in README.md, "Exit codes"), so
 * a supervisor or script can tell them apart. Anything else keeps its stack trace (exit 1).
 */
export const EXIT = {
  /** An unexpected error: a bug, or a failure with no better explanation (stack trace printed). */
  unexpected: 1,
  /** A variable is invalid or missing, or the object-store variables are set only in part. */
  config: 2,
  /** DATABASE_URL names a server that does not answer (down, wrong host or port). */
  databaseUnreachable: 3,
  /** DATABASE_URL names a database that does not exist on a server that answers. */
  databaseMissing: 4,
  /** The server refused DATABASE_URL's user or password. */
  databaseAuth: 5,
  /** PORT (or METRICS_PORT) is taken by another process, or may not be bound by this user. */
  portUnavailable: 6,
} as const;

export interface StartupFailure {
  exitCode: number;
  message: string;
}

/** What `quire serve` needs to word a message: the values it started with. */
export interface StartupContext {
  databaseUrl?: string | undefined;
  port?: number;
  metricsPort?: number | undefined;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

/** The error's code, looking inside AggregateError (Node tries each address of a host name). */
function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; errors?: unknown[]; cause?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors)) for (const inner of e.errors) if (codeOf(inner)) return codeOf(inner);
  return e.cause ? codeOf(e.cause) : undefined;
}

/** host:port, user and database of a connection string, never its password. */
function describeUrl(url: string): { where: string; user: string; database: string; host: string; port: string } {
  try {
    const u = new URL(url);
    const host = u.hostname || 'localhost';
    const port = u.port || '5432';
    return { where: `${host}:${port}`, user: decodeURIComponent(u.username) || 'postgres', database: decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username), host, port };
  } catch {
    return { where: 'the server', user: '', database: '', host: '', port: '' };
  }
}

/** A message and exit code for a start-up failure that has a known remedy, or undefined. */
export function explainStartupFailure(err: unknown, context: StartupContext = {}): StartupFailure | undefined {
  if (err instanceof ConfigError) return { exitCode: EXIT.config, message: err.message };
  const code = codeOf(err);
  if (code === 'EADDRINUSE' || code === 'EACCES') {
    const port = (err as { port?: number }).port;
    const variable = port !== undefined && port === context.metricsPort && port !== context.port ? 'METRICS_PORT' : 'PORT';
    const shown = port ?? (variable === 'PORT' ? context.port : context.metricsPort);
    return {
      exitCode: EXIT.portUnavailable,
      message:
        code === 'EADDRINUSE'
          ? `${variable}: another process listens on ${shown}. Stop it, or set ${variable} to a free port (e.g. ${variable}=${(shown ?? 4000) + 1}).`
          : `${variable}: this user may not listen on port ${shown} (EACCES). Use a port above 1023, e.g. ${variable}=4000.`,
    };
  }
  if (context.databaseUrl) {
    const db = describeUrl(context.databaseUrl);
    if (code === '3D000') {
      return {
        exitCode: EXIT.databaseMissing,
        message:
          `DATABASE_URL: the server at ${db.where} has no database "${db.database}".\n` +
          `  Create it (createdb -h ${db.host} -p ${db.port} -U ${db.user} ${db.database}), or point DATABASE_URL at one that exists.`,
      };
    }
    if (code === '28P01' || code === '28000') {
      return {
        exitCode: EXIT.databaseAuth,
        message: `DATABASE_URL: the server at ${db.where} refused user "${db.user}" (${code === '28P01' ? 'wrong password' : 'not allowed by pg_hba.conf'}). Fix the user or password in DATABASE_URL.`,
      };
    }
    if (code !== undefined && UNREACHABLE.has(code)) {
      return {
        exitCode: EXIT.databaseUnreachable,
        message:
          `DATABASE_URL: no PostgreSQL server answers at ${db.where} (${code}).\n` +
          '  Start it or fix the host and port; or unset DATABASE_URL to use the embedded database.',
      };
    }
  }
  return undefined;
}

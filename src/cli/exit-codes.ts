/**
 * Every command's exit code but `serve`'s (whose start-up failures have codes of their own:
 * src/startup-errors.ts), so that a script tells "the check found a problem" from "it could not
 * check". README.md, "Commands", documents them.
 */
export const CLI_EXIT = {
  ok: 0,
  /** The check ran and found a problem: not ready, broken, different, not all copied. */
  problem: 1,
  /** Bad use: an unknown flag, a missing argument, a value out of range, a bad configuration. */
  usage: 2,
  /** The command could not do its work: the database or the object store does not answer, or it failed unexpectedly. */
  operational: 3,
} as const;


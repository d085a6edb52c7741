/**
 * Base of every error quire reports to a caller on purpose. `code` is stable and machine-readable;
 * the API layer maps codes to typed GraphQL results and HTTP statuses.
 */
export abstract class QuireError extends Error {
  abstract readonly code: string;
}

/**
 * Refusals of the HTTP API that are not change-set results: thrown by handlers, turned into
 * `{"error": {"status", "code", "message"}}` by the server's error handler. Messages are
 * written for the person at the other end and never contain a secret or a token.
 */

/** Stable codes of {@link HttpError}, one per status the API uses. */
export type HttpErrorCode =
  | 'bad-request'
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'precondition-failed'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'too-many-requests'
  | 'internal';

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    /** Headers sent with the error (e.g. `Retry-After` of a 429). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The JSON body of an {@link HttpError}. */
export interface ErrorBody {
  readonly error: { readonly status: number; readonly code: HttpErrorCode; readonly message: string };
}

export function errorBody(e: HttpError): ErrorBody {
  return { error: { status: e.status, code: e.code, message: e.message } };
}

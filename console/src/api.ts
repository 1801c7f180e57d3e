// The gateway's public API, called with the signed-in credential as a bearer token. Errors
// carry the API's own message, shown to the user as it is.

const STORAGE = 'tollgate.credential';

/** Who signed in, as `GET /api/v1/me` answers. */
export interface Me {
  kind: 'tenant' | 'operator';
  tenant_id?: string;
  tenant_name?: string;
  key_id?: string;
  key_name?: string;
  manage_keys?: boolean;
  role?: 'admin' | 'billing' | 'viewer';
}

/** An answer the API refused, with its status, message and code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The credential of this tab's session (session storage only). */
export function credential(): string | null {
  return sessionStorage.getItem(STORAGE);
}

/** Keeps `value` for this tab's session. */
export function remember(value: string): void {
  sessionStorage.setItem(STORAGE, value);
}

/** Forgets the credential. */
export function forget(): void {
  sessionStorage.removeItem(STORAGE);
}

async function send(path: string, init: RequestInit, token = credential()): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (init.body) headers.set('content-type', 'application/json');
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'The gateway cannot be reached. Check that it is running, then try again.');
  }
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  let code: string | undefined;
  try {
    const body = await response.json();
    if (typeof body?.error?.message === 'string') message = body.error.message;
    if (typeof body?.error?.code === 'string') code = body.error.code;
  } catch {
    // Not JSON: keep the status line.
  }
  if (response.status === 401 && token === credential()) {
    window.dispatchEvent(new CustomEvent('tollgate:unauthenticated', { detail: message }));
  }
  throw new ApiError(response.status, message, code);
}

/** GET `path` as JSON. */
export async function get<T>(path: string): Promise<T> {
  return (await send(path, {})).json() as Promise<T>;
}

/** `method` `path` with a JSON body; the JSON answer, or `undefined` for 204. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await send(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return undefined as T;
  return response.json() as Promise<T>;
}

/** Who `token` is; throws the API's refusal. */
export async function whoIs(token: string): Promise<Me> {
  return (await send('/api/v1/me', {}, token)).json() as Promise<Me>;
}

/** A fresh idempotency key. (`crypto.randomUUID` exists only on https or localhost; the
 * console may be served over plain http inside a network.) */
export function newIdempotencyKey(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Percent-encodes a path segment. */
export const seg = encodeURIComponent;

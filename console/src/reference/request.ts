// The request a try-it form describes: its URL, headers and body, or why it cannot be sent,
// and the same request as a curl line.
import type { Parameter } from './operation';

/** A request ready for `fetch` (relative URL: this gateway only). */
export interface Prepared {
  url: string;
  headers: Headers;
  body?: string;
}

/** A credential a header can carry: visible ASCII, no blanks. */
export function validCredential(token: string): boolean {
  return /^[\x21-\x7e]+$/.test(token);
}

/** Builds `path` with `values` of `parameters` and the JSON `body`, or says what is wrong. */
export function prepare(path: string, parameters: Parameter[], values: string[], body: string | undefined): Prepared | string {
  let url = path;
  const query = new URLSearchParams();
  const headers = new Headers();
  for (const [i, parameter] of parameters.entries()) {
    const value = values[i];
    if (!value) {
      if (parameter.required || parameter.in === 'path') return `${parameter.name} is required.`;
      continue;
    }
    if (parameter.in === 'path') {
      // "." and ".." would move the request to another route once the URL is normalised.
      if (value === '.' || value === '..') return `${parameter.name} cannot be "${value}".`;
      url = url.replace(`{${parameter.name}}`, encodeURIComponent(value));
    } else if (parameter.in === 'query') {
      query.append(parameter.name, value);
    } else if (parameter.in === 'header') {
      headers.set(parameter.name, value);
    }
  }
  const search = query.toString();
  if (search) url += `?${search}`;
  if (body !== undefined) {
    try {
      JSON.parse(body);
    } catch (error) {
      return `The body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
    }
    headers.set('content-type', 'application/json');
  }
  return { url, headers, body };
}

/** A shell-quoted word. */
function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The request as a curl command; the credential stays `$TOLLGATE_KEY`. */
export function curlLine(method: string, request: Prepared, authenticated: boolean): string {
  const words = ['curl', '-sS'];
  if (method !== 'GET') words.push('-X', method);
  words.push(quote(`${location.origin}${request.url}`));
  if (authenticated) words.push('-H', '"Authorization: Bearer $TOLLGATE_KEY"');
  request.headers.forEach((value, name) => words.push('-H', quote(`${name}: ${value}`)));
  if (request.body !== undefined) words.push('-d', quote(request.body));
  return words.join(' ');
}

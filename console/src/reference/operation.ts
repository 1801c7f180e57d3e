// One operation of the API reference: what it takes and answers, who may call it, and a form
// that sends it to this gateway with the page's bearer credential.
import { h, replace } from '../dom';
import { newIdempotencyKey } from '../api';
import { curlLine, prepare, validCredential } from './request';
import { type Components, type Schema, exampleOf, prose, resolve, schemaTree, typeLabel } from './schema';

/** An OpenAPI parameter. */
export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  description?: string;
  schema?: Schema;
}

interface Media {
  schema?: Schema;
}

/** An OpenAPI operation, with Tollgate's `x-tollgate-*` extensions. */
export interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, Media> };
  responses?: Record<string, { description?: string; content?: Record<string, Media> }>;
  'x-tollgate-role'?: string;
  'x-tollgate-audit'?: string;
}

/** What every operation view needs from the page. */
export interface Context {
  components: Components;
  /** The bearer credential typed on the page (may be empty). */
  credential: () => string;
  /** Values to start parameters with (the signed-in tenant's id as `tenant_id`). */
  defaults: Record<string, string>;
}

/** The element id (and URL fragment) of `method` `path`. */
export function anchor(method: string, path: string): string {
  return `${method}${path}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/-+$/, '');
}

/** Who may call the operation, in words. */
function access(op: Operation): string {
  const schemes = new Set((op.security ?? []).flatMap((s) => Object.keys(s)));
  if (schemes.size === 0) return 'No credential needed.';
  const role = op['x-tollgate-role'];
  const operator = role ? `an operator token with role ${role} or above` : 'an operator token';
  if (schemes.has('tenant_key') && schemes.has('admin_token')) return `A tenant API key (its own tenant only) or ${operator}.`;
  if (schemes.has('tenant_key')) return 'A tenant API key.';
  return `${operator[0].toUpperCase()}${operator.slice(1)}.`;
}

function parameterTable(parameters: Parameter[], components: Components): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'In'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Description'))),
      h(
        'tbody',
        {},
        parameters.map((p) =>
          h(
            'tr',
            {},
            h('td', {}, h('code', {}, p.name), p.required && h('span', { class: 'req' }, ' required')),
            h('td', {}, p.in),
            h('td', {}, p.schema ? typeLabel(p.schema, components) : 'string'),
            h('td', {}, prose(p.description ?? (p.schema ? resolve(p.schema, components).description : '') ?? '')),
          ),
        ),
      ),
    ),
  );
}

function mediaBlock(type: string, media: Media, components: Components): HTMLElement {
  const schema = media.schema ?? {};
  const description = resolve(schema, components).description;
  return h(
    'div',
    { class: 'media' },
    h('p', {}, h('code', {}, type), ' · ', h('span', { class: 'prop-type' }, typeLabel(schema, components))),
    description && h('p', { class: 'prop-desc' }, prose(description)),
    schemaTree(schema, components),
  );
}

function responsesBlock(op: Operation, components: Components): HTMLElement {
  return h(
    'ul',
    { class: 'responses' },
    Object.entries(op.responses ?? {}).map(([status, response]) => {
      const content = Object.entries(response.content ?? {});
      const head = [h('span', { class: `status s${status[0]}` }, status), ' ', response.description ?? ''];
      if (content.length === 0) return h('li', {}, h('p', {}, head));
      return h('li', {}, h('details', {}, h('summary', {}, head), content.map(([type, media]) => mediaBlock(type, media, components))));
    }),
  );
}

/** At most this many characters of an answer are shown (the rest is cut, with a note). */
const SHOWN_CHARS = 1 << 20;

/** Shows `response` in `output`: JSON pretty-printed, server-sent events as they arrive. */
async function showResponse(response: Response, output: HTMLElement): Promise<void> {
  if (response.status === 204 || !response.body) {
    output.textContent = 'No content.';
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const streaming = (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (text.length + value.length > SHOWN_CHARS) {
      text += value.slice(0, SHOWN_CHARS - text.length);
      await reader.cancel();
      output.textContent = `${text}\n… (cut after ${SHOWN_CHARS.toLocaleString('en-US')} characters)`;
      return;
    }
    text += value;
    if (streaming) output.append(value);
  }
  if (streaming) return;
  try {
    output.textContent = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    output.textContent = text;
  }
}

/** A starting body for `media`: its example, with a fresh idempotency key where it takes one
 * (sending it twice then books once). */
function startingBody(media: { schema?: Schema }, components: Components): string {
  const example = exampleOf(media.schema ?? {}, components);
  if (example && typeof example === 'object' && 'idempotency_key' in example) {
    (example as Record<string, unknown>).idempotency_key = newIdempotencyKey('docs');
  }
  return JSON.stringify(example, null, 2);
}

/** The try-it form of `method` `path` in `details`; closing it stops what it is sending. */
function tryIt(method: string, path: string, op: Operation, ctx: Context, details: HTMLDetailsElement): HTMLElement {
  const parameters = (op.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query' || p.in === 'header');
  const inputs = parameters.map((p) =>
    h('input', {
      type: 'text',
      name: p.name,
      required: p.required || p.in === 'path',
      placeholder: p.schema ? typeLabel(p.schema, ctx.components).replace(/ \| null$/, '') : '',
      autocomplete: 'off',
      spellcheck: 'false',
    }),
  );
  inputs.forEach((input, i) => (input.value = ctx.defaults[parameters[i].name] ?? ''));
  const bodyMedia = op.requestBody?.content['application/json'];
  const body = bodyMedia ? h('textarea', { name: 'body', rows: 8, spellcheck: 'false' }, startingBody(bodyMedia, ctx.components)) : null;
  const authenticated = (op.security ?? []).length > 0;
  const curl = h('pre', { class: 'curl' });
  // One live region per form, its text changed: screen readers announce the status, not the
  // answer's body.
  const statusLine = h('p', { class: 'status-line', role: 'status' });
  const answer = h('div');
  const result = h('div', { class: 'result' }, statusLine, answer);
  const sendButton = h('button', { type: 'submit' }, 'Send request');
  const stopButton = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Stop');
  let running: AbortController | null = null;

  const request = () => prepare(path, parameters, inputs.map((i) => i.value), body?.value);
  const showCurl = () => {
    const built = request();
    curl.textContent = typeof built === 'string' ? `# ${built}` : curlLine(method, built, authenticated);
  };
  const fail = (message: string) => {
    replace(statusLine);
    replace(answer, h('p', { class: 'error', role: 'alert' }, message));
  };

  const send = async (event: Event) => {
    event.preventDefault();
    // One request at a time: a second click must not send (and bill) it again.
    if (running) return;
    const built = request();
    if (typeof built === 'string') return fail(built);
    const token = ctx.credential();
    if (token && !validCredential(token)) return fail('The credential holds characters a header cannot carry.');
    if (token) built.headers.set('authorization', `Bearer ${token}`);
    const controller = new AbortController();
    running = controller;
    sendButton.disabled = true;
    stopButton.hidden = false;
    const started = performance.now();
    replace(statusLine, 'Sending…');
    replace(answer);
    try {
      const response = await fetch(built.url, { method, headers: built.headers, body: built.body, cache: 'no-store', redirect: 'error', signal: controller.signal });
      const status = [h('span', { class: `status s${String(response.status)[0]}` }, String(response.status)), ` ${response.statusText}`];
      replace(statusLine, ...status, ' · receiving…');
      const headerList = h('details', {}, h('summary', {}, 'Response headers'), h('pre', {}, [...response.headers].map(([name, value]) => `${name}: ${value}`).join('\n')));
      const output = h('pre', { class: 'response-body', tabindex: 0 });
      replace(answer, headerList, h('h4', {}, 'Response body'), output);
      await showResponse(response, output);
      replace(statusLine, ...status, ` · ${Math.round(performance.now() - started)} ms`);
    } catch (error) {
      if (controller.signal.aborted) {
        replace(statusLine, statusLine.textContent === 'Sending…' ? 'Stopped before an answer.' : `${statusLine.textContent?.replace(' · receiving…', '')} · stopped`);
      } else {
        fail(`The gateway cannot be reached: ${error instanceof Error ? error.message : String(error)}`);
      }
    } finally {
      running = null;
      sendButton.disabled = false;
      stopButton.hidden = true;
    }
  };
  stopButton.addEventListener('click', () => running?.abort());
  details.addEventListener('toggle', () => {
    if (!details.open) running?.abort();
  });

  const form = h(
    'form',
    { class: 'try', 'aria-label': `Try ${method} ${path}`, onsubmit: send, oninput: showCurl },
    h('h3', {}, 'Try it'),
    inputs.length > 0 && h('div', { class: 'try-params' }, inputs.map((input, i) => h('label', {}, `${parameters[i].name} (${parameters[i].in})`, input))),
    body && h('label', { class: 'try-body' }, 'Request body (JSON)', body),
    h('div', { class: 'actions' }, sendButton, stopButton),
    h('figure', { class: 'curl-figure' }, h('figcaption', {}, 'The same request with curl'), curl),
    result,
  );
  showCurl();
  return form;
}

/** The collapsible entry of `method` `path`: the summary line now, the details when opened. */
export function operationView(method: string, path: string, op: Operation, ctx: Context): HTMLDetailsElement {
  const id = anchor(method, path);
  const body = h('div', { class: 'op-body' });
  const details = h(
    'details',
    { class: 'op', id, 'data-search': `${method} ${path} ${op.summary ?? ''}`.toLowerCase() },
    h('summary', {}, h('span', { class: `method m-${method.toLowerCase()}` }, method), ' ', h('code', { class: 'path' }, path), ' ', h('span', { class: 'op-summary' }, prose(op.summary ?? ''))),
    body,
  );
  details.addEventListener('toggle', () => {
    if (!details.open) return;
    if (location.hash !== `#${id}`) history.replaceState(null, '', `#${id}`);
    if (body.childElementCount > 0) return;
    const parameters = op.parameters ?? [];
    const requestBody = Object.entries(op.requestBody?.content ?? {});
    replace(
      body,
      op.description && h('p', {}, prose(op.description)),
      h('p', { class: 'access' }, h('strong', {}, 'Who may call: '), access(op), op['x-tollgate-audit'] && ` Audited as ${op['x-tollgate-audit']}.`),
      parameters.length > 0 && [h('h3', {}, 'Parameters'), parameterTable(parameters, ctx.components)],
      requestBody.length > 0 && [h('h3', {}, 'Request body'), ...requestBody.map(([type, media]) => mediaBlock(type, media, ctx.components))],
      h('h3', {}, 'Responses'),
      responsesBlock(op, ctx.components),
      tryIt(method, path, op, ctx, details),
    );
  });
  return details;
}

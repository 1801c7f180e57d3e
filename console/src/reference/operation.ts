// One operation of the API reference: what it takes and answers, who may call it, and a form
// that sends it to this gateway with the page's bearer credential.
import { h, replace } from '../dom';
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
  return h('div', { class: 'media' }, h('p', {}, h('code', {}, type), ' · ', h('span', { class: 'prop-type' }, typeLabel(schema, components))), schemaTree(schema, components));
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

/** A shell-quoted word. */
function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The try-it form of `method` `path`. */
function tryIt(method: string, path: string, op: Operation, ctx: Context): HTMLElement {
  const parameters = (op.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query' || p.in === 'header');
  const inputs = parameters.map((p) => {
    const input = h('input', {
      type: 'text',
      name: p.name,
      value: ctx.defaults[p.name],
      required: p.in === 'path',
      placeholder: p.schema ? typeLabel(p.schema, ctx.components) : '',
      autocomplete: 'off',
      spellcheck: 'false',
    });
    return { parameter: p, input };
  });
  const bodyMedia = op.requestBody?.content['application/json'];
  const body = bodyMedia
    ? h('textarea', { name: 'body', rows: 8, spellcheck: 'false', 'aria-label': 'Request body (JSON)' }, JSON.stringify(exampleOf(bodyMedia.schema ?? {}, ctx.components), null, 2))
    : null;
  const curl = h('pre', { class: 'curl', 'aria-label': 'The same request with curl' });
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  let running: AbortController | null = null;

  /** The URL, headers and body the form describes, or the reason it cannot be sent. */
  const request = (): { url: string; headers: Headers; body?: string } | string => {
    let url = path;
    const query = new URLSearchParams();
    const headers = new Headers();
    for (const { parameter, input } of inputs) {
      const value = input.value;
      if (parameter.in === 'path') {
        if (!value) return `${parameter.name} is required.`;
        url = url.replace(`{${parameter.name}}`, encodeURIComponent(value));
      } else if (value && parameter.in === 'query') {
        query.append(parameter.name, value);
      } else if (value) {
        headers.set(parameter.name, value);
      }
    }
    const search = query.toString();
    if (search) url += `?${search}`;
    let text: string | undefined;
    if (body) {
      text = body.value;
      try {
        JSON.parse(text);
      } catch (error) {
        return `The body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
      }
      headers.set('content-type', 'application/json');
    }
    return { url, headers, body: text };
  };

  const showCurl = () => {
    const built = request();
    if (typeof built === 'string') {
      curl.textContent = `# ${built}`;
      return;
    }
    const words = ['curl', '-sS'];
    if (method !== 'GET') words.push('-X', method);
    words.push(quote(`${location.origin}${built.url}`));
    if ((op.security ?? []).length > 0) words.push('-H', '"Authorization: Bearer $TOLLGATE_KEY"');
    built.headers.forEach((value, name) => words.push('-H', quote(`${name}: ${value}`)));
    if (built.body !== undefined) words.push('-d', quote(built.body));
    curl.textContent = words.join(' ');
  };

  const send = async (event: Event) => {
    event.preventDefault();
    const built = request();
    if (typeof built === 'string') {
      replace(result, h('p', { class: 'error', role: 'alert' }, built));
      return;
    }
    running?.abort();
    const controller = new AbortController();
    running = controller;
    const token = ctx.credential();
    if (token) built.headers.set('authorization', `Bearer ${token}`);
    const started = performance.now();
    replace(result, h('p', { class: 'loading' }, 'Sending…'));
    try {
      const response = await fetch(built.url, { method, headers: built.headers, body: built.body, cache: 'no-store', signal: controller.signal });
      const status = h('p', { class: 'status-line' }, h('span', { class: `status s${String(response.status)[0]}` }, String(response.status)), ` ${response.statusText}`);
      const headerList = h(
        'details',
        {},
        h('summary', {}, 'Response headers'),
        h('pre', {}, [...response.headers].map(([name, value]) => `${name}: ${value}`).join('\n')),
      );
      const output = h('pre', { class: 'response-body', tabindex: 0, 'aria-label': 'Response body' });
      replace(result, status, headerList, output);
      const type = response.headers.get('content-type') ?? '';
      if (type.startsWith('text/event-stream') && response.body) {
        // Server-sent events: show each chunk as it arrives.
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          output.append(value);
        }
      } else {
        const text = await response.text();
        try {
          output.textContent = type.includes('json') ? JSON.stringify(JSON.parse(text), null, 2) : text;
        } catch {
          output.textContent = text;
        }
      }
      status.append(` · ${Math.round(performance.now() - started)} ms`);
    } catch (error) {
      if (controller.signal.aborted) return;
      replace(result, h('p', { class: 'error', role: 'alert' }, `The gateway cannot be reached: ${error instanceof Error ? error.message : String(error)}`));
    } finally {
      if (running === controller) running = null;
    }
  };

  const form = h(
    'form',
    { class: 'try', 'aria-label': `Try ${method} ${path}`, onsubmit: send, oninput: showCurl },
    h('h4', {}, 'Try it'),
    inputs.length > 0 && h('div', { class: 'try-params' }, inputs.map(({ parameter, input }) => h('label', {}, `${parameter.name} (${parameter.in})`, input))),
    body && h('label', { class: 'try-body' }, 'Request body (JSON)', body),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Send request')),
    curl,
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
    h('summary', {}, h('span', { class: `method m-${method.toLowerCase()}` }, method), h('code', { class: 'path' }, path), h('span', { class: 'op-summary' }, prose(op.summary ?? ''))),
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
      parameters.length > 0 && [h('h4', {}, 'Parameters'), parameterTable(parameters, ctx.components)],
      requestBody.length > 0 && [h('h4', {}, 'Request body'), ...requestBody.map(([type, media]) => mediaBlock(type, media, ctx.components))],
      h('h4', {}, 'Responses'),
      responsesBlock(op, ctx.components),
      tryIt(method, path, op, ctx),
    );
  });
  return details;
}

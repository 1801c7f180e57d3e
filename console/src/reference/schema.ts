// JSON Schema (OpenAPI 3.1) as the API reference shows it: a one-line type, a tree of
// properties with their constraints, and an example value to start a request body from.
import { h } from '../dom';

/** The parts of a JSON Schema the reference reads. */
export interface Schema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  examples?: unknown[];
  example?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
}

/** Text with `code spans` (the document's descriptions use them) as text and code nodes. */
export function prose(text: string): (string | HTMLElement)[] {
  return text.split('`').map((part, i) => (i % 2 === 1 ? h('code', {}, part) : part));
}

/** Named schemas (`components.schemas`) that `$ref`s point into. */
export type Components = Record<string, Schema>;

const REF_PREFIX = '#/components/schemas/';
/** How deep the property tree and generated examples go (schemas may refer to themselves). */
const MAX_DEPTH = 6;

/** The name a `$ref` points at, if it is a local schema reference. */
export function refName(schema: Schema): string | undefined {
  return schema.$ref?.startsWith(REF_PREFIX) ? schema.$ref.slice(REF_PREFIX.length) : undefined;
}

/** `schema` with its `$ref` followed and `allOf` merged (to a bounded depth: a schema may
 * refer to itself). */
export function resolve(schema: Schema, components: Components, depth = 0): Schema {
  let seen = 0;
  let current = schema;
  while (current.$ref && seen++ < MAX_DEPTH) {
    const name = refName(current);
    const target = name === undefined ? undefined : components[name];
    if (!target) break;
    current = { ...target, description: current.description ?? target.description };
  }
  if (current.allOf && depth < MAX_DEPTH) {
    const merged: Schema = { ...current, allOf: undefined, properties: { ...current.properties }, required: [...(current.required ?? [])] };
    for (const part of current.allOf.map((p) => resolve(p, components, depth + 1))) {
      Object.assign(merged.properties!, part.properties);
      merged.required!.push(...(part.required ?? []));
      merged.type ??= part.type;
    }
    return merged;
  }
  return current;
}

function literal(value: unknown): string {
  return JSON.stringify(value);
}

/** A one-line type: `string (uuid)`, `integer | null`, `array of ApiKey`, `"day" | "week"`. */
export function typeLabel(schema: Schema, components: Components, depth = 0): string {
  const name = refName(schema);
  if (name) return name;
  if (depth > MAX_DEPTH) return '…';
  if (schema.const !== undefined) return literal(schema.const);
  if (schema.enum) return schema.enum.map(literal).join(' | ');
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return variants.map((v) => typeLabel(v, components, depth + 1)).join(' | ');
  if (schema.allOf) return schema.allOf.map((v) => typeLabel(v, components, depth + 1)).join(' & ');
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const labels = types.map((t) => {
    if (t === 'array') return `array of ${schema.items ? typeLabel(schema.items, components, depth + 1) : 'any'}`;
    return t;
  });
  const label = labels.join(' | ') || (schema.properties ? 'object' : 'any');
  return schema.format ? `${label} (${schema.format})` : label;
}

/** Constraints worth a reader's eye: bounds, lengths, pattern, default. */
function constraints(schema: Schema): string[] {
  const out: string[] = [];
  const pair = (label: string, value: unknown) => value !== undefined && out.push(`${label} ${typeof value === 'string' ? value : literal(value)}`);
  pair('≥', schema.minimum);
  pair('≤', schema.maximum);
  pair('>', schema.exclusiveMinimum);
  pair('<', schema.exclusiveMaximum);
  pair('min length', schema.minLength);
  pair('max length', schema.maxLength);
  pair('min items', schema.minItems);
  pair('max items', schema.maxItems);
  pair('pattern', schema.pattern);
  pair('default', schema.default);
  return out;
}

/** The object whose properties a schema's tree lists: itself, its array items, or nothing. */
function objectOf(schema: Schema, components: Components, depth = 0): Schema | undefined {
  const resolved = resolve(schema, components);
  if (resolved.properties && Object.keys(resolved.properties).length > 0) return resolved;
  if (depth > MAX_DEPTH) return undefined;
  if (resolved.items) return objectOf(resolved.items, components, depth + 1);
  const variants = resolved.anyOf ?? resolved.oneOf;
  const objects = variants?.map((v) => objectOf(v, components, depth + 1)).filter((v) => v !== undefined);
  return objects?.length === 1 ? objects[0] : undefined;
}

/** The property tree of `schema` (an object, or an array of objects), or `null` for a scalar. */
export function schemaTree(schema: Schema, components: Components, depth = 0): HTMLElement | null {
  const object = objectOf(schema, components);
  if (!object?.properties || depth > MAX_DEPTH) return null;
  const required = new Set(object.required ?? []);
  return h(
    'ul',
    { class: 'props' },
    Object.entries(object.properties).map(([name, property]) => {
      const resolved = resolve(property, components);
      const notes = constraints(resolved);
      const nested = refName(property) && depth >= 1 ? null : schemaTree(property, components, depth + 1);
      return h(
        'li',
        {},
        h('code', { class: 'prop-name' }, name),
        ' ',
        h('span', { class: 'prop-type' }, typeLabel(property, components)),
        required.has(name) && h('span', { class: 'req' }, ' required'),
        notes.length > 0 && h('span', { class: 'prop-notes' }, ` · ${notes.join(' · ')}`),
        resolved.description && h('div', { class: 'prop-desc' }, prose(resolved.description)),
        nested,
      );
    }),
  );
}

function hasExample(schema: Schema, components: Components): boolean {
  const resolved = resolve(schema, components);
  return Boolean(resolved.examples?.length) || resolved.example !== undefined;
}

/** An example value for `schema`: its own example, else one built from its types. Objects get
 * their required properties and those with an example of their own. */
export function exampleOf(schema: Schema, components: Components, depth = 0): unknown {
  const resolved = resolve(schema, components);
  if (resolved.examples?.length) return resolved.examples[0];
  if (resolved.example !== undefined) return resolved.example;
  if (resolved.const !== undefined) return resolved.const;
  if (resolved.default !== undefined) return resolved.default;
  if (resolved.enum?.length) return resolved.enum[0];
  if (depth > MAX_DEPTH) return null;
  const variants = resolved.anyOf ?? resolved.oneOf;
  if (variants?.length) return exampleOf(variants.find((v) => resolve(v, components).type !== 'null') ?? variants[0], components, depth + 1);
  const types = Array.isArray(resolved.type) ? resolved.type : [resolved.type ?? (resolved.properties ? 'object' : 'string')];
  const type = types.find((t) => t !== 'null') ?? 'null';
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const required = new Set(resolved.required ?? []);
      for (const [name, property] of Object.entries(resolved.properties ?? {})) {
        if (required.has(name) || hasExample(property, components)) out[name] = exampleOf(property, components, depth + 1);
      }
      return out;
    }
    case 'array':
      return resolved.items ? [exampleOf(resolved.items, components, depth + 1)] : [];
    case 'integer':
    case 'number':
      return resolved.minimum ?? resolved.exclusiveMinimum ?? 0;
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      if (resolved.format === 'uuid') return '00000000-0000-0000-0000-000000000000';
      if (resolved.format === 'date-time') return new Date().toISOString();
      return 'string';
  }
}

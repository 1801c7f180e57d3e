// Many tenants at once: does a limited or exhausted tenant slow anyone else down?
//
// setup() creates, through the management API, tenants of four kinds with KEYS keys each:
// `open` (funded, no limits: the ones measured), `busy` (the same, for noise that is served),
// `tight` (funded, each key at rpm 30 / tpm 3000 / 2 in flight, hammered far beyond) and
// `broke` (a hundredth of a cent of credit: 402 after the first requests). Then two scenarios
// run side by side:
//   open  - OPEN_RATE req/s over the open tenants' keys (every fourth request streamed)
//   noisy - NOISY_RATE req/s (half streamed) over the tight and broke tenants' keys, or with
//           NOISE=busy over the busy tenants' keys (the same load, all of it served), or with
//           NOISE=huge streams over the `huge` tenants' keys (funded, no limits) whose prompt is
//           HUGE_BYTES (262144) of one letter: the slowest text there is to count tokens in
// Every answer must be what its kind allows (open, busy: 200; tight: 200 or 429 with
// Retry-After; broke: 200 or 402), and the open tenants' latency is its own series
// (`http_req_duration{kind:open}`). scripts/bench runs it alone, next to busy tenants and next
// to limited ones, and compares the open tenants' p99.
//
// Env: TARGET_URL, ADMIN_TOKEN, MODEL (demo-small), OPEN_RATE (200), NOISY_RATE (400), NOISE
// (limited | busy | huge), HUGE_BYTES, DURATION (30s), TENANTS (4 of each kind), KEYS (3).
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';

const base = __ENV.TARGET_URL;
const openRate = Number(__ENV.OPEN_RATE || 200);
const noisyRate = Number(__ENV.NOISY_RATE || 400);
const duration = __ENV.DURATION || '30s';
const tenantsPerKind = Math.max(1, Number(__ENV.TENANTS || 4));
const noise = { busy: ['busy'], huge: ['huge'] }[__ENV.NOISE] || ['tight', 'broke'];
const hugePrompt = 'a'.repeat(Number(__ENV.HUGE_BYTES || 262144));
const keysPerTenant = Math.max(1, Number(__ENV.KEYS || 3));
const model = __ENV.MODEL || 'demo-small';

const limited = new Counter('limited_429');
const refused = new Counter('refused_402');
const wrong = new Counter('unexpected_answers');

const scenarios = {
  open: {
    executor: 'constant-arrival-rate',
    exec: 'open',
    rate: openRate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs: Math.max(20, Math.ceil(openRate / 10)),
    maxVUs: Math.max(100, openRate),
  },
};
if (noisyRate > 0) {
  scenarios.noisy = {
    executor: 'constant-arrival-rate',
    exec: 'noisy',
    rate: noisyRate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs: Math.max(20, Math.ceil(noisyRate / 10)),
    maxVUs: Math.max(100, noisyRate),
  };
}

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
  setupTimeout: '120s',
  scenarios,
  thresholds: {
    unexpected_answers: ['count==0'],
    'http_req_duration{kind:open}': ['p(99)<1000'],
  },
};

const admin = { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${__ENV.ADMIN_TOKEN}` } };

function post(path, body) {
  const res = http.post(`${base}${path}`, JSON.stringify(body), Object.assign({ responseType: 'text' }, admin));
  if (res.status !== 201) {
    throw new Error(`POST ${path}: ${res.status} ${res.body}`);
  }
  return JSON.parse(res.body);
}

function makeTenant(kind, index, run) {
  const tenant = post('/api/v1/tenants', { name: `k6 ${kind} ${index} ${run}` });
  const limits = kind === 'tight' ? { rpm: 30, tpm: 3000, max_concurrent: 2 } : { rpm: null, tpm: null, max_concurrent: null };
  const keys = [];
  for (let k = 0; k < keysPerTenant; k++) {
    keys.push(post(`/api/v1/tenants/${tenant.id}/keys`, Object.assign({ name: `k6 key ${k}` }, limits)).key);
  }
  const amount = kind === 'broke' ? '0.0001' : '1000';
  post(`/api/v1/tenants/${tenant.id}/credits`, { amount_usd: amount, idempotency_key: `k6-${run}-${tenant.id}` });
  return { id: tenant.id, kind, keys };
}

export function setup() {
  const run = `${Date.now()}`;
  const tenants = [];
  for (const kind of ['open', ...noise]) {
    for (let i = 0; i < tenantsPerKind; i++) {
      tenants.push(makeTenant(kind, i, run));
    }
  }
  // The ledger books each credit before admission lets its tenant spend it.
  for (const tenant of tenants) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const res = http.get(`${base}/api/v1/tenants/${tenant.id}/balance`, Object.assign({ responseType: 'text' }, admin));
      if (res.status === 200 && Number(JSON.parse(res.body).credited_usd) > 0) {
        break;
      }
      sleep(0.1);
    }
  }
  const keysOf = (kinds) => tenants.filter((t) => kinds.includes(t.kind)).flatMap((t) => t.keys.map((key) => ({ key, kind: t.kind })));
  return { open: keysOf(['open']), noisy: keysOf(noise) };
}

const prompt = Array.from({ length: 40 }, (_, i) => `word${i % 17}`).join(' ');

function ask(key, kind, stream) {
  const body = {
    model,
    messages: [{ role: 'user', content: kind === 'huge' ? hugePrompt : `Tenant load: ${prompt}` }],
    max_tokens: 32,
  };
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  const res = http.post(`${base}/v1/chat/completions`, JSON.stringify(body), {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
    tags: { kind },
  });
  if (res.status === 429) {
    limited.add(1);
  } else if (res.status === 402) {
    refused.add(1);
  }
  const allowed = {
    open: [200],
    busy: [200],
    huge: [200],
    tight: [200, 429],
    broke: [200, 402],
  }[kind];
  const ok = check(res, {
    'answer allowed for its kind': (r) => allowed.includes(r.status),
    'a 429 says when to retry': (r) => r.status !== 429 || r.headers['Retry-After'] !== undefined,
  });
  if (!ok) {
    wrong.add(1, { kind, status: `${res.status}` });
  }
}

export function open(data) {
  const pick = data.open[(__VU + __ITER) % data.open.length];
  ask(pick.key, pick.kind, __ITER % 4 === 0);
}

export function noisy(data) {
  const pick = data.noisy[(__VU * 7 + __ITER) % data.noisy.length];
  ask(pick.key, pick.kind, pick.kind === 'huge' || __ITER % 2 === 0);
}

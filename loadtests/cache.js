// Fixed-arrival-rate load of cache hits on POST /v1/chat/completions.
//
// Env: TARGET_URL, API_KEY, MODEL, RATE (req/s), DURATION, PROMPTS (a JSON file: an array of
// user prompts that are already cached), EXPECT (the x-tollgate-cache answer each must get:
// exact or semantic), ONCE (1: each prompt is sent once, in order, so none is repeated; the
// file must hold RATE x DURATION prompts). Used by scripts/bench after loadtests/cache_warm.py
// filled the cache.
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';

const rate = Number(__ENV.RATE || 100);
const prompts = JSON.parse(open(__ENV.PROMPTS));
const expected = __ENV.EXPECT || 'exact';
const once = __ENV.ONCE === '1';

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
  scenarios: {
    hits: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '30s',
      preAllocatedVUs: Math.max(20, Math.ceil(rate / 10)),
      maxVUs: Math.max(100, rate),
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
  },
};

const url = `${__ENV.TARGET_URL}/v1/chat/completions`;
const params = {
  headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${__ENV.API_KEY}` },
};

export default function () {
  const i = once ? exec.scenario.iterationInTest : Math.floor(Math.random() * prompts.length);
  const prompt = prompts[i % prompts.length];
  const body = JSON.stringify({
    model: __ENV.MODEL || 'demo-small',
    messages: [{ role: 'user', content: prompt }],
    max_tokens: 32,
  });
  const res = http.post(url, body, params);
  check(res, {
    'status is 200': (r) => r.status === 200,
    [`cache is ${expected}`]: (r) => r.headers['X-Tollgate-Cache'] === expected,
  });
}

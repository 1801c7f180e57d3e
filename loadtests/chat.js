// Fixed-arrival-rate load on POST /v1/chat/completions (non-streaming); with VUS set, a closed
// loop instead (VUS clients, each sending its next request when the last is answered).
//
// Env: TARGET_URL (base URL; comma-separated: requests alternate over them), API_KEY, MODEL,
// RATE (req/s), VUS, DURATION (e.g. 30s), PROMPT_WORDS, STREAM=1 (`stream: true`: k6's
// http_req_waiting is then the time to the first byte of the stream).
// Used by scripts/bench twice per rate: straight at mock-upstream, then through the gateway;
// by scripts/bench-cluster at one gateway, then at two.
import http from 'k6/http';
import { check } from 'k6';

const rate = Number(__ENV.RATE || 500);
const vus = Number(__ENV.VUS || 0);
const duration = __ENV.DURATION || '30s';

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
  scenarios: {
    steady: vus > 0
      ? { executor: 'constant-vus', vus, duration }
      : {
        executor: 'constant-arrival-rate',
        rate,
        timeUnit: '1s',
        duration,
        preAllocatedVUs: Math.max(20, Math.ceil(rate / 10)),
        maxVUs: Math.max(100, rate),
      },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
  },
};

const urls = (__ENV.TARGET_URL || '').split(',').map((base) => `${base}/v1/chat/completions`);
const words = Number(__ENV.PROMPT_WORDS || 40);
const prompt = Array.from({ length: words }, (_, i) => `word${i % 17}`).join(' ');
const body = JSON.stringify({
  model: __ENV.MODEL || 'demo-small',
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: `Benchmark request: ${prompt}` },
  ],
  max_tokens: 32,
  stream: __ENV.STREAM === '1',
});
const params = {
  headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${__ENV.API_KEY || 'none'}` },
};

export default function () {
  const res = http.post(urls[(__VU + __ITER) % urls.length], body, params);
  check(res, { 'status is 200': (r) => r.status === 200 });
}

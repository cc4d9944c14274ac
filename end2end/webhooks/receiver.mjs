// A webhook receiver for the tests and the benchmark. Every message is verified with the
// official Standard Webhooks library (the `standardwebhooks` package), never with code of
// Tenantry's. Endpoints are named: POST /hook/<name> receives; PUT /config/<name> sets
// what it checks and answers ({ secrets: [...], status: 200, delay_ms: 0 }); GET
// /received/<name> lists what arrived; DELETE /received/<name> forgets it; GET /count
// says how many messages arrived in all (for the benchmark).
//
// Usage: node receiver.mjs <port> [--quiet]   (--quiet keeps only counts and latencies)

import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const port = Number(process.argv[2] ?? 0);
const quiet = process.argv.includes('--quiet');
const configs = new Map();
const received = new Map();
let total = 0;
const latencies = [];

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
}

// Each configured secret is tried on its own: `verified[i]` says whether the message
// carries a valid signature made with secrets[i].
function verify(config, body, headers) {
  return config.secrets.map((secret) => {
    try {
      new Webhook(secret).verify(body, {
        'webhook-id': headers['webhook-id'],
        'webhook-timestamp': headers['webhook-timestamp'],
        'webhook-signature': headers['webhook-signature'],
      });
      return true;
    } catch {
      return false;
    }
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://receiver');
  const [, kind, name] = url.pathname.split('/');
  try {
    if (req.method === 'POST' && kind === 'hook') {
      const body = await readBody(req);
      const now = Date.now();
      const config = configs.get(name) ?? { secrets: [], status: 200, delay_ms: 0 };
      const verified = verify(config, body, req.headers);
      let parsed = null;
      try {
        parsed = JSON.parse(body);
      } catch {}
      total += 1;
      if (parsed?.timestamp) latencies.push(now - Date.parse(parsed.timestamp));
      if (!quiet) {
        if (!received.has(name)) received.set(name, []);
        received.get(name).push({
          webhook_id: req.headers['webhook-id'],
          webhook_timestamp: req.headers['webhook-timestamp'],
          signature: req.headers['webhook-signature'],
          verified,
          type: parsed?.type,
          event_id: parsed?.id,
          body: parsed,
          received_at: now,
          answered: config.status,
        });
      }
      if (config.delay_ms) await new Promise((r) => setTimeout(r, config.delay_ms));
      return send(res, config.status, { ok: config.status < 300 });
    }
    if (req.method === 'PUT' && kind === 'config') {
      const config = JSON.parse(await readBody(req));
      configs.set(name, { secrets: [], status: 200, delay_ms: 0, ...config });
      return send(res, 204, '');
    }
    if (req.method === 'GET' && kind === 'received') return send(res, 200, received.get(name) ?? []);
    if (req.method === 'DELETE' && kind === 'received') {
      received.delete(name);
      return send(res, 204, '');
    }
    if (req.method === 'GET' && kind === 'count') return send(res, 200, { total });
    if (req.method === 'POST' && kind === 'latencies') {
      // Returns the event-to-delivery latencies (ms) since the last call, and forgets them.
      const out = latencies.splice(0, latencies.length);
      return send(res, 200, out);
    }
    return send(res, 404, { error: 'no such endpoint' });
  } catch (e) {
    return send(res, 500, { error: String(e) });
  }
});

server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`webhook receiver on http://127.0.0.1:${server.address().port}`);
});

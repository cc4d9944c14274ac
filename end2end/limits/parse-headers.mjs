// Parses every RateLimit and RateLimit-Policy header value a test collected with the
// `structured-headers` npm package (RFC 9651 structured fields), as a client would, and
// checks each is what draft-ietf-httpapi-ratelimit-headers describes: a list of one item,
// a string naming the policy, with non-negative integer parameters (`q` and `w` for a
// policy, `r` and `t` for the current state). Usage: node parse-headers.mjs <file.json>
// where the file holds [{"policy": "...", "now": "..."}, ...]. Prints `parsed N` or fails.
import { readFileSync } from 'node:fs';
import { parseList } from 'structured-headers';

const pairs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const policies = new Set();

function one(value, params) {
  const list = parseList(value);
  if (list.length !== 1) throw new Error(`${value}: ${list.length} items, expected 1`);
  const [name, parameters] = list[0];
  if (typeof name !== 'string') throw new Error(`${value}: the item is not a string`);
  for (const p of params) {
    const v = parameters.get(p);
    if (!Number.isInteger(v) || v < 0) throw new Error(`${value}: ${p} is ${v}`);
  }
  return name;
}

for (const { policy, now } of pairs) {
  const a = one(policy, ['q', 'w']);
  const b = one(now, ['r', 't']);
  if (a !== b) throw new Error(`policy ${a} and state ${b} name different policies`);
  policies.add(a);
}
console.log(`parsed ${pairs.length} ${[...policies].sort().join(',')}`);

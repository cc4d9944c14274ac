// A peer for Tenantry's sealed fields (docs/data-protection.md), written from the documented
// format alone: libsodium's crypto_aead_xchacha20poly1305_ietf, and Node's HMAC-SHA-256.
// Reads one JSON request per line on stdin and answers one JSON line each:
//   {"op":"open", "key", "envelope", "tenant", "table", "column", "row"}   -> {"plaintext"} or {"refused": true}
//   {"op":"seal", "key", "version", "kind", "plaintext", "tenant", "table", "column", "row"} -> {"envelope"}
//   {"op":"unwrap", "key", "wrapped", "tenant", "identity"}                -> {"key"} or {"refused": true}
//   {"op":"blind", "key", "domain", "value"}                                -> {"index"}
// Keys and byte strings are hexadecimal; ids are UUIDs in text.
import { createHmac, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import sodium from 'libsodium-wrappers';

await sodium.ready;

const hex = (s) => Buffer.from(s, 'hex');
const uuid = (s) => Buffer.from(s.replaceAll('-', ''), 'hex');
const text = (s) => Buffer.from(s, 'utf8');
const zero = Buffer.from([0]);

// The associated data after the envelope's 6-byte header, which comes first.
function fieldPlace(r) {
  return Buffer.concat([text('tenantry/field/v1'), zero, uuid(r.tenant),
    text(r.table), zero, text(r.column), zero, uuid(r.row)]);
}

function open(key, envelope, place) {
  const header = envelope.subarray(0, 6);
  const nonce = envelope.subarray(6, 30);
  const sealed = envelope.subarray(30);
  return Buffer.from(sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
    null, sealed, Buffer.concat([header, place]), nonce, key));
}

function answer(r) {
  switch (r.op) {
    case 'open': {
      try {
        return { plaintext: open(hex(r.key), hex(r.envelope), fieldPlace(r)).toString('utf8') };
      } catch {
        return { refused: true };
      }
    }
    case 'seal': {
      const header = Buffer.alloc(6);
      header[0] = 1;
      header[1] = r.kind === 'tenant' ? 1 : 2;
      header.writeUInt32BE(r.version, 2);
      const nonce = randomBytes(24);
      const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        text(r.plaintext), Buffer.concat([header, fieldPlace(r)]), null, nonce, hex(r.key));
      return { envelope: Buffer.concat([header, nonce, Buffer.from(sealed)]).toString('hex') };
    }
    case 'unwrap': {
      const place = Buffer.concat([text('tenantry/subject-key/v1'), zero, uuid(r.tenant), uuid(r.identity)]);
      try {
        return { key: open(hex(r.key), hex(r.wrapped), place).toString('hex') };
      } catch {
        return { refused: true };
      }
    }
    case 'blind': {
      const mac = createHmac('sha256', hex(r.key));
      mac.update(Buffer.concat([text(r.domain), zero, text(r.value)]));
      return { index: mac.digest().subarray(0, 16).toString('hex') };
    }
    default:
      return { error: `unknown op ${r.op}` };
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim()) process.stdout.write(JSON.stringify(answer(JSON.parse(line))) + '\n');
}

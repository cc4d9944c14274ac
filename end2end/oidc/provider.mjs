// A real OpenID provider for the tests (panva's certified `oidc-provider`), on loopback.
//
//   node end2end/oidc/provider.mjs [PORT]
//
// Without a port (or with 0) it listens on a free one; either way it prints
// "oidc provider ready at <issuer>" once it answers, so a harness reads the port from there
// instead of choosing one that something else might take first.
//
// Relying parties register themselves through dynamic client registration (POST /reg), so
// every test server, whatever its port, gets a client of its own. The development login form
// accepts any password; the login name decides the account's claims:
//   alice                  -> alice@example.com, verified
//   someone@corp.test      -> that address, verified
//   unverified-<anything>  -> <login>@example.com, NOT verified
import http from 'node:http';
import Provider from 'oidc-provider';

// The socket is bound first: the issuer names the port, and the provider needs its issuer.
const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.argv[2] || 0), '127.0.0.1', resolve));
const port = server.address().port;
const issuer = `http://127.0.0.1:${port}`;

function claimsOf(login) {
  const email = login.includes('@') ? login : `${login}@example.com`;
  const name = login.split('@')[0].replace(/[-_.]+/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
  return { sub: login, email, email_verified: !login.startsWith('unverified'), name };
}

const oidc = new Provider(issuer, {
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Email and name go into the ID token itself, not only the userinfo endpoint.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
  },
  pkce: { required: () => true },
  cookies: { keys: ['tenantry-test-provider-only'] },
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return claimsOf(id); } };
  },
});
oidc.proxy = false;
server.on('request', oidc.callback());
console.log(`oidc provider ready at ${issuer}`);

// A real OpenID provider for the tests (panva's certified `oidc-provider`), on loopback.
//
//   node end2end/oidc/provider.mjs PORT
//
// Relying parties register themselves through dynamic client registration (POST /reg), so
// every test server, whatever its port, gets a client of its own. The development login form
// accepts any password; the login name decides the account's claims:
//   alice                  -> alice@example.com, verified
//   someone@corp.test      -> that address, verified
//   unverified-<anything>  -> <login>@example.com, NOT verified
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 4000);
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
oidc.listen(port, '127.0.0.1', () => {
  console.log(`oidc provider ready at ${issuer}`);
});

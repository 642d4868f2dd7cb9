// Dashboard users on the Worker inside the offline harness: PBKDF2 through WebCrypto from Pyodide, the
// first admin through SETUP_SECRET, sign-in with the session cookie, CSRF on writes, sign-out.
// Run with `npm run test:worker`.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { createHarness } from "./harness.mjs";

const BASE = "http://broker.test";
const SETUP_SECRET = "worker-setup-secret-0123456789";
const PASSWORD = "correct horse battery staple";

let h;

before(async () => {
  h = await createHarness({ vars: { SETUP_SECRET } });
  await h.migrate();
});
after(async () => h?.dispose());

const json = (method, body, headers = {}) => ({
  method,
  headers: { "content-type": "application/json", ...headers },
  body: body === undefined ? undefined : JSON.stringify(body),
});

/** RFC 6238 (SHA-1, 6 digits, 30 s) for a base32 secret: what an authenticator app computes. */
function totpCode(secret, step) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const digest = createHmac("sha1", key).update(counter).digest();
  const offset = digest[19] & 0x0f;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** The cookie's value from a Set-Cookie header (the harness has no cookie jar: a browser keeps it). */
const cookieOf = (response) => response.headers.get("set-cookie")?.split(";")[0].split("=")[1] ?? null;

describe("the Worker's PBKDF2 (WebCrypto from Pyodide)", () => {
  test("matches RFC 7914's PBKDF2-HMAC-SHA256 vector, and Pyodide's hashlib has no pbkdf2_hmac", async () => {
    const result = await h.runPython(`
import hashlib
from package_broker.runtimes.cloudflare.kdf import WebCryptoKdf
derived = await WebCryptoKdf().pbkdf2_sha256(b"Password", b"NaCl", 80000, 64)
derived.hex() + " " + str(hasattr(hashlib, "pbkdf2_hmac"))
`);
    const [hex, hashlibHas] = result.split(" ");
    assert.equal(
      hex,
      "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56" +
        "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d",
    );
    assert.equal(hashlibHas, "False");
  });

  test("refuses more than 100,000 iterations, as workerd does in production (Node would not)", async () => {
    const message = await h.runPython(`
from package_broker.runtimes.cloudflare.kdf import WebCryptoKdf
try:
    await WebCryptoKdf().pbkdf2_sha256(b"x", b"salt", 100_001, 32)
    result = "derived"
except ValueError as exc:
    result = str(exc)
result
`);
    assert.match(message, /at most 100000 iterations/);
  });

  test("a hash made on the server verifies on the Worker (same format, same bytes)", async () => {
    // Made with Python's hashlib (OpenSSL), as the server's HashlibKdf does:
    // hashlib.pbkdf2_hmac("sha256", b"correct horse battery staple", b"0123456789abcdef", 100000, 32)
    const ok = await h.runPython(`
import base64, hashlib
from package_broker.accounts import passwords
from package_broker.runtimes.cloudflare.kdf import WebCryptoKdf
salt = b"0123456789abcdef"
expected = bytes.fromhex(server_hex)
encoded = "pbkdf2_sha256$100000$" + base64.b64encode(salt).decode().rstrip("=") + "$" + base64.b64encode(expected).decode().rstrip("=")
verified = await passwords.verify(WebCryptoKdf(), "correct horse battery staple", encoded, 100000)
str(verified.ok)
`, { server_hex: "090105d3788cadab9c12509fa1ba1d46a91a158d7a1779b114322f3fd5a825cb" });
    assert.equal(ok, "True");
  });
});

describe("first admin, sign-in and sessions", () => {
  let cookie;
  let csrf;

  test("setup needs the secret, and works once", async () => {
    const status = await h.fetch(`${BASE}/api/setup`);
    assert.deepEqual(await status.json(), { needed: true, method: "secret" });

    const wrong = await h.fetch(`${BASE}/api/setup`, json("POST", { secret: "x".repeat(30), name: "alice", password: PASSWORD }));
    assert.equal(wrong.status, 403);
    assert.equal(cookieOf(wrong), null);

    const made = await h.fetch(`${BASE}/api/setup`, json("POST", { secret: SETUP_SECRET, name: "alice", password: PASSWORD }));
    assert.equal(made.status, 201, await made.clone().text());
    const body = await made.json();
    assert.equal(body.user.name, "alice");
    assert.equal(body.user.role, "admin");
    const setCookie = made.headers.get("set-cookie");
    assert.match(setCookie, /^pkb_session=[A-Za-z0-9_-]{43}; Max-Age=43200; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    cookie = cookieOf(made);
    csrf = body.csrf_token;

    const stored = await h.env.DB.prepare("SELECT password_hash FROM users").all();
    assert.match(stored.results[0].password_hash, /^pbkdf2_sha256\$100000\$/);

    const again = await h.fetch(`${BASE}/api/setup`, json("POST", { secret: SETUP_SECRET, name: "eve", password: PASSWORD }));
    assert.equal(again.status, 403);
    assert.deepEqual(await (await h.fetch(`${BASE}/api/setup`)).json(), { needed: false, method: "secret" });
  });

  test("the cookie is the session; writes need its CSRF token", async () => {
    const me = await h.fetch(`${BASE}/api/session`, { headers: { cookie: `pkb_session=${cookie}` } });
    assert.equal(me.status, 200);
    const session = await me.json();
    assert.deepEqual(Object.keys(session).sort(), ["csrf_token", "user"]);
    assert.equal(session.csrf_token, csrf);
    assert.equal(session.user.name, "alice");
    assert.equal((await h.fetch(`${BASE}/api/session`)).status, 401);

    const viewer = { name: "victor", password: PASSWORD, role: "viewer" };
    const noCsrf = await h.fetch(`${BASE}/api/users`, json("POST", viewer, { cookie: `pkb_session=${cookie}` }));
    assert.equal(noCsrf.status, 403);
    assert.equal((await noCsrf.json()).reason, "csrf");
    const created = await h.fetch(
      `${BASE}/api/users`,
      json("POST", viewer, { cookie: `pkb_session=${cookie}`, "x-csrf-token": csrf, origin: BASE }),
    );
    assert.equal(created.status, 201, await created.clone().text());
  });

  test("sign-in: one answer for wrong names and passwords, a session for the right ones", async () => {
    const wrongPassword = await h.fetch(`${BASE}/api/session`, json("POST", { name: "victor", password: PASSWORD + "!" }));
    const unknown = await h.fetch(`${BASE}/api/session`, json("POST", { name: "nobody", password: PASSWORD }));
    assert.equal(wrongPassword.status, 401);
    assert.deepEqual(await wrongPassword.json(), await unknown.json());

    const signedIn = await h.fetch(`${BASE}/api/session`, json("POST", { name: "victor", password: PASSWORD }));
    assert.equal(signedIn.status, 200);
    const victor = cookieOf(signedIn);
    const token = (await signedIn.json()).csrf_token;
    const users = await h.fetch(`${BASE}/api/users`, { headers: { cookie: `pkb_session=${victor}` } });
    assert.deepEqual((await users.json()).map((u) => [u.name, u.role]), [["alice", "admin"], ["victor", "viewer"]]);
    const forbidden = await h.fetch(
      `${BASE}/api/users/alice`,
      { method: "DELETE", headers: { cookie: `pkb_session=${victor}`, "x-csrf-token": token } },
    );
    assert.equal(forbidden.status, 403);

    const out = await h.fetch(`${BASE}/api/session`, { method: "DELETE", headers: { cookie: `pkb_session=${victor}`, "x-csrf-token": token } });
    assert.equal(out.status, 204);
    assert.match(out.headers.get("set-cookie"), /Max-Age=0/);
    assert.equal((await h.fetch(`${BASE}/api/session`, { headers: { cookie: `pkb_session=${victor}` } })).status, 401);
  });
});

describe("two-factor on D1", () => {
  test("a code is accepted once, a recovery code once", async () => {
    const signIn = (body) => h.fetch(`${BASE}/api/session`, json("POST", { name: "alice", password: PASSWORD, ...body }));
    const first = await signIn({});
    const cookie = cookieOf(first);
    const { csrf_token: csrf } = await first.json();
    const auth = { cookie: `pkb_session=${cookie}`, "x-csrf-token": csrf };
    const { secret } = await (await h.fetch(`${BASE}/api/me/totp`, json("POST", undefined, auth))).json();
    const step = Math.floor(Date.now() / 30_000);
    const confirmed = await h.fetch(`${BASE}/api/me/totp/confirm`, json("POST", { code: totpCode(secret, step - 1) }, auth));
    assert.equal(confirmed.status, 200, await confirmed.clone().text());
    const { recovery_codes: codes } = await confirmed.json();
    assert.equal(codes.length, 10);
    // Sealed by the Worker's WebCrypto cipher under ENCRYPTION_KEY: the base32 secret is not in the row.
    const { results: [row] } = await h.env.DB.prepare("SELECT totp_secret, totp_pending FROM users WHERE name = 'alice'").all();
    assert.match(row.totp_secret, /^v1\.[0-9a-f]{8}\./);
    assert.ok(!row.totp_secret.includes(secret) && row.totp_pending === null);

    const asked = await signIn({});
    assert.equal(asked.status, 401);
    assert.equal((await asked.json()).totp_required, true);
    const code = totpCode(secret, step + 1);
    assert.equal((await signIn({ code })).status, 200);
    assert.equal((await signIn({ code })).status, 401); // the same step again: refused
    assert.equal((await signIn({ code: codes[0] })).status, 200);
    assert.equal((await signIn({ code: codes[0] })).status, 401);
  });
});

describe("PASSWORD_ITERATIONS on Workers", () => {
  test("above Cloudflare's cap is a configuration error naming the variable", async () => {
    const capped = await createHarness({ vars: { PASSWORD_ITERATIONS: "600000" } });
    try {
      const response = await capped.fetch(`${BASE}/health`);
      assert.equal(response.status, 503);
      assert.match((await response.json()).message, /PASSWORD_ITERATIONS: must be at most 100000 on Workers/);
    } finally {
      await capped.dispose();
    }
  });
});

// Dashboard sign-in cost on the Worker, in the offline harness (the deploy bundle in real Pyodide, Miniflare
// D1). Prints, per PASSWORD_ITERATIONS setting, the CPU milliseconds of one sign-in (POST /api/session: the
// PBKDF2 derivation through WebCrypto plus the Python handler, its D1 reads and writes and the session) and
// of the derivation alone from Python. The named peer, measured in the same run: the same PBKDF2 called
// directly from JavaScript (crypto.subtle.deriveBits), the least a sign-in can cost.
// Node's WebCrypto (OpenSSL) stands in for workerd's (BoringSSL); Cloudflare's Free plan allows 10 ms of CPU
// per request, the Paid plan 30 s by default.
//
//   node bench/signin.mjs [--iterations 20]

import { createHarness } from "../tests/worker/harness.mjs";

const arg = (name, fallback) => Number(process.argv[process.argv.indexOf(name) + 1]) || fallback;
const rounds = arg("--iterations", 20);
const PASSWORD = "correct horse battery staple";
const SETUP_SECRET = "bench-setup-secret-0123456789";

async function cpu(call) {
  await call(); // warm
  const used = process.cpuUsage();
  for (let i = 0; i < rounds; i++) await call();
  const spent = process.cpuUsage(used);
  return (spent.user + spent.system) / 1000 / rounds;
}

async function peer(iterations) {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(PASSWORD), "PBKDF2", false, ["deriveBits"]);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return cpu(() => crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256));
}

for (const iterations of [10_000, 100_000]) {
  const h = await createHarness({ vars: { SETUP_SECRET, PASSWORD_ITERATIONS: String(iterations) }, plan: null });
  try {
    await h.migrate();
    const post = (path, body) =>
      h.fetch(`http://broker.test${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const made = await post("/api/setup", { secret: SETUP_SECRET, name: "alice", password: PASSWORD });
    if (made.status !== 201) throw new Error(`setup failed: ${made.status} ${await made.text()}`);
    const signIn = await cpu(async () => {
      const response = await post("/api/session", { name: "alice", password: PASSWORD });
      if (response.status !== 200) throw new Error(`sign-in failed: ${response.status}`);
    });
    const derive = await cpu(() =>
      h.runPython(
        `from package_broker.runtimes.cloudflare.kdf import WebCryptoKdf
await WebCryptoKdf().pbkdf2_sha256(b"${PASSWORD}", b"0123456789abcdef", ${iterations}, 32)`,
      ),
    );
    const js = await peer(iterations);
    console.log(
      `PASSWORD_ITERATIONS=${iterations}: sign-in ${signIn.toFixed(1)} ms CPU, PBKDF2 from Python ` +
        `${derive.toFixed(1)} ms, peer (PBKDF2 from JavaScript) ${js.toFixed(1)} ms, ratio ${(signIn / js).toFixed(2)}`,
    );
  } finally {
    await h.dispose();
  }
}

// The operator console in a real browser (Debian's chromium, driven by
// playwright-core): sign in, see a small simulated city appear and move,
// watch a booking go from searching to assigned, retry a dead letter, find
// and ban a user. Any console error, page error, failed request or HTTP
// error answer fails the run.
//
// usage: node console.mjs <base url> <database url> <admin email> <admin password> [screenshot.png]
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";

const [base, dbUrl, adminEmail, adminPassword, screenshot] = process.argv.slice(2);
const problems = [];
const step = (what) => console.log(`[e2e] ${what}`);

async function api(method, path, token, body) {
  const r = await fetch(base + path, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  return { status: r.status, data };
}

async function ok(method, path, token, body, want = [200, 201, 202]) {
  const r = await api(method, path, token, body);
  if (!want.includes(r.status)) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data.data ?? r.data;
}

async function register(email, role) {
  const d = await ok("POST", "/api/v1/auth/register", null,
    { email, password: "correct-horse", full_name: `E2E ${role}`, role });
  return { token: d.access_token, id: d.user.id, email };
}

const sql = (statement) => execFileSync("psql", [dbUrl, "-qtAc", statement]).toString().trim();

const ts = (days) => new Date(Date.now() + days * 86400e3).toISOString().replace(/\.\d+Z$/, "Z");
const address = (line1, lat, lng) => ({ line1, line2: "", city: "Ipoh", state: "Perak", postal_code: "30000",
  country: "Malaysia", latitude: lat, longitude: lng });
// far from the simulated city (Kuala Lumpur): nobody is offered it
const FAR = [4.5975, 101.0901];
const booking = {
  pet_spec: { pet_type: "dog", breed: "Beagle", name: "Milo", weight_kg: 12, age_months: 24,
    vaccinations: [{ vaccine_name: "Rabies", date_given: ts(-30), expires_at: ts(300), vet_name: "Kilat Vet", verified: true }],
    special_needs: "", photo_url: "" },
  pickup_address: address("1 Jalan Sultan Idris Shah", FAR[0], FAR[1]),
  dropoff_address: address("Ipoh Parade", FAR[0] - 0.01, FAR[1] + 0.01),
  notes: "e2e",
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.method()} ${r.url()} (${r.failure()?.errorText})`));
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`); });
  page.on("dialog", (d) => d.accept(d.type() === "prompt" ? "e2e" : undefined));

  step("sign in");
  await page.goto(`${base}/console`);
  await page.fill("#email", adminEmail);
  await page.fill("#password", adminPassword);
  await page.click("#signin-form button[type=submit]");
  await page.waitForSelector("#console:not([hidden])");
  await page.waitForFunction(() => document.querySelector("#live").textContent === "live", null, { timeout: 15000 });

  step("the simulated runners appear on the map");
  await page.waitForFunction(() => window.kilatConsole.runners.size >= 3, null, { timeout: 60000 });
  const before = await page.evaluate(() => [...window.kilatConsole.runners.values()].map((r) => [r.id, r.lat, r.lng]));
  step(`${before.length} runners on the map; waiting for one to move`);
  await page.waitForFunction((prev) => {
    const seen = new Map(prev.map(([id, lat, lng]) => [id, [lat, lng]]));
    return [...window.kilatConsole.runners.values()].some((r) => {
      const p = seen.get(r.id);
      return p && (p[0] !== r.lat || p[1] !== r.lng);
    });
  }, before, { timeout: 30000 });

  step("a booking nobody is near waits in the queue, searching");
  const owner = await register(`e2e-owner-${Date.now()}@example.my`, "owner");
  const created = await ok("POST", "/api/v1/bookings", owner.token, booking);
  await page.waitForSelector(`#queue tr[data-booking="${created.id}"][data-status="searching"]`, { timeout: 15000 });

  step("a runner comes and takes it: it leaves the queue, assigned");
  const runner = await register(`e2e-runner-${Date.now()}@example.my`, "runner");
  await ok("POST", "/api/v1/runners", runner.token,
    { vehicle_type: "car", vehicle_plate: "AKL 1234", vehicle_model: "Perodua Myvi", air_conditioned: true });
  await ok("POST", "/api/v1/runners/me/crates", runner.token,
    { size: "medium", pet_types: ["dog", "cat"], max_weight_kg: 20, ventilated: true, temperature_controlled: false });
  await ok("POST", "/api/v1/runners/me/online", runner.token, { latitude: FAR[0], longitude: FAR[1] });
  await ok("POST", `/api/v1/bookings/${created.id}/accept`, runner.token, {});
  await page.waitForSelector(`#trips tr[data-booking="${created.id}"][data-status="accepted"]`, { timeout: 15000 });
  if (await page.$(`#queue tr[data-booking="${created.id}"]`)) problems.push("an assigned booking stayed in the queue");

  step("a dead letter is retried from the console");
  await ok("POST", "/api/v1/payments/initiate", owner.token,
    { booking_id: created.id, amount_cents: created.estimated_price_cents, currency: "MYR", customer_email: owner.email });
  for (const s of ["pickup", "deliver"]) await ok("POST", `/api/v1/bookings/${created.id}/${s}`, runner.token, {});
  await ok("POST", `/api/v1/bookings/${created.id}/confirm`, owner.token, {});
  let paymentId = "";
  for (let i = 0; i < 60 && !paymentId; i++) {
    paymentId = sql(`SELECT id FROM payments WHERE booking_id = '${created.id}' AND escrow_status = 'released'`);
    if (!paymentId) await new Promise((r) => setTimeout(r, 250));
  }
  if (!paymentId) throw new Error("the e2e payment was never released");
  // a capture that (we pretend) kept failing: retrying it finds the money already captured
  const dead = sql(`INSERT INTO payment_dead_letters (payment_id, step, reason, attempts, last_error) \
    VALUES ('${paymentId}', 'capture', '', 3, 'e2e: provider timed out') RETURNING id`);
  const row = `#dead tr[data-dead="payment-${dead}"]`;
  await page.waitForSelector(row, { timeout: 15000 });
  await page.click(`${row} button`);
  await page.waitForSelector(row, { state: "detached", timeout: 15000 });

  step("an operator finds a user and bans them");
  const troublemaker = await register(`e2e-ban-${Date.now()}@example.my`, "owner");
  await page.fill("#user-q", troublemaker.email);
  await page.click("#user-search button");
  const userRow = `#users tr[data-user="${troublemaker.id}"]`;
  await page.waitForSelector(userRow);
  await page.click(`${userRow} button`);
  await page.waitForFunction((sel) => document.querySelector(sel)?.lastChild.textContent === "banned", userRow);
  const login = await api("POST", "/api/v1/auth/login", null, { email: troublemaker.email, password: "correct-horse" });
  if (login.status !== 403) problems.push(`a banned user could still sign in (${login.status})`);

  step("the API docs render with no internet (Swagger UI from the binary)");
  const docs = await browser.newPage();
  docs.on("pageerror", (e) => problems.push(`docs page error: ${e.message}`));
  docs.on("requestfailed", (r) => problems.push(`docs request failed: ${r.url()}`));
  await docs.goto(`${base}/docs/`);
  await docs.waitForSelector(".swagger-ui .info .title", { timeout: 20000 });
  const title = await docs.textContent(".swagger-ui .info .title");
  if (!title.includes("Kilat Dispatch API")) problems.push(`docs title: ${title}`);
  const ops = await docs.$$eval(".opblock", (els) => els.length);
  if (ops < 50) problems.push(`docs show only ${ops} operations`);
  await docs.close();

  if (screenshot) {
    await page.screenshot({ path: screenshot });
    step(`screenshot: ${screenshot}`);
  }
} finally {
  await browser.close();
}

if (problems.length) {
  console.error(`[e2e] FAILED:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log("[e2e] passed");

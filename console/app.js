// Kilat operator console: sign in, watch the city live over /ws (ops view),
// act on stuck bookings, dead letters and users. No framework, no CDN:
// every byte is served by the kilat binary.
"use strict";

const S = {
  access: sessionStorage.getItem("kilat.access"),
  refresh: sessionStorage.getItem("kilat.refresh"),
  runners: new Map(),
  bookings: new Map(),
  frames: 0,
  ws: null,
  wsTimer: null,
  tiles: document.querySelector('meta[name="kilat-tiles"]').content.trim(),
  images: new Map(),
};
// what the browser test reads
window.kilatConsole = S;

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") e.addEventListener("click", v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};

function status(text) {
  $("#status").textContent = `${new Date().toLocaleTimeString()} — ${text}`;
}

// ---- sign-in and the API ---------------------------------------------------

function keep(access, refresh) {
  S.access = access;
  S.refresh = refresh;
  sessionStorage.setItem("kilat.access", access);
  sessionStorage.setItem("kilat.refresh", refresh);
}

function forget() {
  S.access = S.refresh = null;
  sessionStorage.removeItem("kilat.access");
  sessionStorage.removeItem("kilat.refresh");
}

async function refreshTokens() {
  if (!S.refresh) return false;
  const r = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: S.refresh }),
  });
  if (!r.ok) return false;
  const body = await r.json();
  keep(body.data.access_token, body.data.refresh_token);
  return true;
}

// A call with the token; an expired one is refreshed once and retried.
async function api(method, path, body) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await fetch(path, {
      method,
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${S.access}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status === 401 && attempt === 0 && (await refreshTokens())) continue;
    if (r.status === 401) {
      signOut("your session ended; sign in again");
      throw new Error("signed out");
    }
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || `${method} ${path}: ${r.status}`);
    return data;
  }
  throw new Error("unreachable");
}

async function signIn(email, password) {
  const r = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || "sign-in failed");
  if (body.data.user.role !== "admin") throw new Error("this console is for admin accounts");
  keep(body.data.access_token, body.data.refresh_token);
}

function signOut(why) {
  forget();
  if (S.ws) S.ws.close();
  S.ws = null;
  $("#console").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = why || "";
}

// ---- the live feed ---------------------------------------------------------

function connect() {
  if (!S.access) return;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(S.access)}`);
  S.ws = ws;
  ws.onmessage = (m) => {
    const f = JSON.parse(m.data);
    if (f.type === "hello") ws.send(JSON.stringify({ type: "ops.subscribe" }));
    else if (f.type === "ops.snapshot" || f.type === "ops.update") apply(f);
    else if (f.type === "error") status(`feed: ${f.message}`);
  };
  let opened = false;
  ws.onopen = () => { opened = true; setLive(true); };
  ws.onclose = () => {
    setLive(false);
    if (S.ws !== ws || !S.access) return;
    // refused at the upgrade (an expired token): refresh, then come back
    clearTimeout(S.wsTimer);
    S.wsTimer = setTimeout(async () => {
      if (!opened) await refreshTokens().catch(() => false);
      connect();
    }, 1000);
  };
}

function setLive(on) {
  const p = $("#live");
  p.textContent = on ? "live" : "reconnecting…";
  p.className = on ? "pill" : "pill off";
}

function apply(frame) {
  if (frame.type === "ops.snapshot") {
    S.runners.clear();
    S.bookings.clear();
  }
  for (const r of frame.runners) {
    if (r.state === "offline") S.runners.delete(r.id);
    else S.runners.set(r.id, r);
  }
  for (const b of frame.bookings) {
    if (b.status === "completed" || b.status === "cancelled") S.bookings.delete(b.id);
    else S.bookings.set(b.id, b);
  }
  S.frames++;
  renderLists();
}

// ---- the map ---------------------------------------------------------------

const TILE = 256;
const worldX = (lng, z) => ((lng + 180) / 360) * TILE * 2 ** z;
const worldY = (lat, z) => {
  const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
  return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * TILE * 2 ** z;
};

function points() {
  const pts = [];
  for (const r of S.runners.values()) if (r.lat != null) pts.push([r.lat, r.lng]);
  for (const b of S.bookings.values()) {
    pts.push(b.pickup);
    if (b.dropoff) pts.push(b.dropoff);
  }
  return pts;
}

function draw() {
  const canvas = $("#map");
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (!w || !h) return requestAnimationFrame(draw);
  if (canvas.width !== w * devicePixelRatio) {
    canvas.width = w * devicePixelRatio;
    canvas.height = h * devicePixelRatio;
  }
  const g = canvas.getContext("2d");
  g.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
  g.clearRect(0, 0, w, h);
  const pts = points();
  if (!pts.length) {
    g.fillStyle = "#66717d";
    g.fillText("no runners on shift and no open bookings", 16, 24);
    return requestAnimationFrame(draw);
  }
  let [minLat, maxLat, minLng, maxLng] = [90, -90, 180, -180];
  for (const [lat, lng] of pts) {
    minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat);
    minLng = Math.min(minLng, lng); maxLng = Math.max(maxLng, lng);
  }
  // the zoom that fits everything with a margin (Web Mercator)
  let z = 18;
  while (z > 1 && (worldX(maxLng, z) - worldX(minLng, z) > w * 0.8 || worldY(minLat, z) - worldY(maxLat, z) > h * 0.8)) z--;
  const cx = (worldX(minLng, z) + worldX(maxLng, z)) / 2, cy = (worldY(minLat, z) + worldY(maxLat, z)) / 2;
  const px = (lat, lng) => [worldX(lng, z) - cx + w / 2, worldY(lat, z) - cy + h / 2];
  if (S.tiles) drawTiles(g, z, cx - w / 2, cy - h / 2, w, h);
  else drawGrid(g, w, h);
  for (const b of S.bookings.values()) {
    const [x, y] = px(b.pickup[0], b.pickup[1]);
    if (b.dropoff) {
      const [x2, y2] = px(b.dropoff[0], b.dropoff[1]);
      g.strokeStyle = b.waiting ? "#c6282888" : "#6a1b9a88";
      g.setLineDash([4, 4]);
      g.beginPath(); g.moveTo(x, y); g.lineTo(x2, y2); g.stroke();
      g.setLineDash([]);
    }
    g.fillStyle = b.waiting ? "#c62828" : "#6a1b9a";
    g.fillRect(x - 5, y - 5, 10, 10);
  }
  const colors = { idle: "#2e7d32", offered: "#f9a825", on_trip: "#1565c0" };
  for (const r of S.runners.values()) {
    if (r.lat == null) continue;
    const [x, y] = px(r.lat, r.lng);
    g.fillStyle = colors[r.state] || "#555";
    g.beginPath(); g.arc(x, y, 5, 0, 2 * Math.PI); g.fill();
  }
  requestAnimationFrame(draw);
}

function drawGrid(g, w, h) {
  g.strokeStyle = "#d5dbe1";
  for (let x = 0; x < w; x += 64) { g.beginPath(); g.moveTo(x, 0); g.lineTo(x, h); g.stroke(); }
  for (let y = 0; y < h; y += 64) { g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke(); }
}

function drawTiles(g, z, left, top, w, h) {
  const n = 2 ** z;
  for (let tx = Math.floor(left / TILE); tx <= Math.floor((left + w) / TILE); tx++) {
    for (let ty = Math.floor(top / TILE); ty <= Math.floor((top + h) / TILE); ty++) {
      if (ty < 0 || ty >= n) continue;
      const url = S.tiles.replace("{z}", z).replace("{x}", ((tx % n) + n) % n).replace("{y}", ty);
      let img = S.images.get(url);
      if (!img) {
        img = new Image();
        img.src = url;
        S.images.set(url, img);
      }
      if (img.complete && img.naturalWidth) g.drawImage(img, tx * TILE - left, ty * TILE - top);
    }
  }
}

// ---- the lists -------------------------------------------------------------

function age(since) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function renderLists() {
  const all = [...S.bookings.values()];
  const waiting = all.filter((b) => b.waiting).sort((a, b) => a.created_at.localeCompare(b.created_at));
  const trips = all.filter((b) => !b.waiting);
  $("#counts").textContent = `${S.runners.size} runners on shift · ${waiting.length} waiting · ${trips.length} under way`;
  $("#queue-count").textContent = `(${waiting.length})`;
  const q = $("#queue tbody");
  q.replaceChildren(...waiting.map((b) => el("tr", { "data-booking": b.id, "data-status": "searching" },
    el("td", {}, b.booking_number),
    el("td", { class: "age", "data-since": b.created_at }, age(b.created_at)),
    el("td", {}, b.scheduled_at ? new Date(b.scheduled_at).toLocaleString() : "now"),
    el("td", {},
      el("button", { class: "small", onclick: () => redispatch(b) }, "Re-dispatch"), " ",
      el("button", { class: "small danger", onclick: () => cancel(b) }, "Cancel…")))));
  const t = $("#trips tbody");
  t.replaceChildren(...trips.map((b) => el("tr", { "data-booking": b.id, "data-status": b.status },
    el("td", {}, b.booking_number), el("td", {}, b.status),
    el("td", {}, b.runner_id ? (S.runners.get(b.runner_id)?.name || b.runner_id.slice(0, 8)) : "—"))));
}

function tickAges() {
  for (const td of document.querySelectorAll("td.age")) td.textContent = age(td.dataset.since);
}

async function redispatch(b) {
  try {
    await api("POST", `/api/v1/admin/bookings/${b.id}/redispatch`, {});
    status(`${b.booking_number} dispatched again`);
  } catch (e) { status(`re-dispatch ${b.booking_number}: ${e.message}`); }
}

async function cancel(b) {
  const reason = prompt(`Cancel ${b.booking_number}? Reason (the owner reads it):`);
  if (!reason) return;
  try {
    await api("POST", `/api/v1/bookings/${b.id}/cancel`, { reason });
    status(`${b.booking_number} cancelled`);
  } catch (e) { status(`cancel ${b.booking_number}: ${e.message}`); }
}

async function loadStats() {
  try {
    const s = (await api("GET", "/api/v1/admin/dispatch/stats")).data;
    const rate = s.offers_sent ? `${Math.round((100 * s.matched) / s.offers_sent)}%` : "—";
    const rows = [
      ["offers sent", s.offers_sent], ["matched", s.matched], ["acceptance rate", rate],
      ["declined / expired", `${s.offers_declined} / ${s.offers_expired}`],
      ["time to offer p50 / p99", `${s.first_offer_ms_p50.toFixed(0)} / ${s.first_offer_ms_p99.toFixed(0)} ms`],
      ["time to assignment p50 / p99", `${(s.assignment_ms_p50 / 1000).toFixed(1)} / ${(s.assignment_ms_p99 / 1000).toFixed(1)} s`],
      ["searching now (this node)", s.active_rounds],
    ];
    $("#stats").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  } catch (e) { status(`dispatch figures: ${e.message}`); }
}

async function loadDeadLetters() {
  try {
    const payments = (await api("GET", "/api/v1/admin/payments/dead-letters?limit=50")).data;
    const payouts = (await api("GET", "/api/v1/admin/payouts/dead-letters")).data;
    const rows = [
      ...payments.map((d) => el("tr", { "data-dead": `payment-${d.id}` },
        el("td", {}, "payment"), el("td", {}, d.step), el("td", {}, d.last_error),
        el("td", {}, el("button", { class: "small", onclick: () => retry(`/api/v1/admin/payments/dead-letters/${d.id}/retry`) }, "Retry")))),
      ...payouts.map((d) => el("tr", { "data-dead": `payout-${d.id}` },
        el("td", {}, "cash-out"), el("td", {}, `${(d.amount_cents / 100).toFixed(2)} MYR`), el("td", {}, d.last_error),
        el("td", {}, el("button", { class: "small", onclick: () => retry(`/api/v1/admin/payouts/dead-letters/${d.id}/retry`) }, "Retry")))),
    ];
    $("#dead tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, "none"))]));
  } catch (e) { status(`dead letters: ${e.message}`); }
}

async function retry(path) {
  try {
    await api("POST", path, {});
    status("retried");
  } catch (e) { status(`retry: ${e.message}`); }
  loadDeadLetters();
}

async function searchUsers(q) {
  try {
    const users = (await api("GET", `/api/v1/admin/users?limit=20&q=${encodeURIComponent(q)}`)).data;
    $("#users tbody").replaceChildren(...users.map((u) => el("tr", { "data-user": u.id },
      el("td", {}, `${u.full_name} <${u.email}>`), el("td", {}, u.role),
      el("td", {}, u.role === "admin" ? "" : el("button", { class: "small danger", onclick: () => ban(u) }, "Ban")))));
  } catch (e) { status(`users: ${e.message}`); }
}

async function ban(u) {
  if (!confirm(`Ban ${u.email}? Their sessions end at once.`)) return;
  try {
    await api("POST", `/api/v1/admin/users/${u.id}/ban`, {});
    status(`${u.email} banned`);
    const row = document.querySelector(`#users tr[data-user="${u.id}"]`);
    if (row) row.lastChild.replaceChildren("banned");
  } catch (e) { status(`ban: ${e.message}`); }
}

// ---- start -------------------------------------------------------------------

let started = false;

function start() {
  $("#signin").hidden = true;
  if (started) return connect();
  started = true;
  $("#console").hidden = false;
  connect();
  loadStats();
  loadDeadLetters();
  setInterval(loadStats, 5000);
  setInterval(loadDeadLetters, 5000);
  setInterval(tickAges, 1000);
  requestAnimationFrame(draw);
}

$("#signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await signIn($("#email").value, $("#password").value);
    start();
  } catch (err) { $("#signin-error").textContent = err.message; }
});
$("#signout").addEventListener("click", () => signOut());
$("#stats-refresh").addEventListener("click", loadStats);
$("#user-search").addEventListener("submit", (e) => { e.preventDefault(); searchUsers($("#user-q").value); });

if (S.access) start();

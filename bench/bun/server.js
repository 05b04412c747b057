// A minimal ping → watcher server for Bun (uWebSockets underneath), the
// peer Kilat's fan-out is measured against (BENCHMARKS.md). Same work per
// ping as kilat's hot path: parse the runner's JSON `location` frame,
// build the flat `location_update` frame, deliver it to the booking's
// watchers — in-process (topic pub/sub), or through Redis when
// REDIS_URL is set (every node subscribes; the runner's node publishes).
//
//   PORT=9081 bun server.js                       # one node, in-process
//   PORT=9081 REDIS_URL=redis://127.0.0.1:6379 bun server.js   # a node of two
//
// Runners: ws://host/ws?role=runner&booking=<id>; watchers: ...role=watch.
import Redis from "ioredis";

const port = Number(process.env.PORT || 9081);
const redisUrl = process.env.REDIS_URL;
const prefix = process.env.REDIS_PREFIX || "bunbench:";
let pub = null;

const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  fetch(req, server) {
    const url = new URL(req.url);
    if (url.pathname === "/health") return new Response("ok");
    const booking = url.searchParams.get("booking");
    const role = url.searchParams.get("role");
    if (url.pathname !== "/ws" || !booking || !role) return new Response("not found", { status: 404 });
    if (server.upgrade(req, { data: { booking, role } })) return;
    return new Response("upgrade failed", { status: 400 });
  },
  websocket: {
    open(ws) {
      if (ws.data.role === "watch") ws.subscribe("b:" + ws.data.booking);
    },
    message(ws, message) {
      if (ws.data.role !== "runner") return;
      let ping;
      try {
        ping = JSON.parse(message);
      } catch {
        ws.send('{"type":"error","code":"bad_json"}');
        return;
      }
      if (ping.type !== "location" || typeof ping.latitude !== "number" || typeof ping.longitude !== "number") return;
      const frame = JSON.stringify({
        type: "location_update",
        booking_id: ws.data.booking,
        runner_id: "runner-" + ws.data.booking,
        latitude: ping.latitude,
        longitude: ping.longitude,
        speed_kmh: ping.speed_kmh || 0,
        heading_degrees: ping.heading_degrees || 0,
        timestamp: new Date().toISOString(),
      });
      if (pub) pub.publish(prefix + ws.data.booking, frame);
      else server.publish("b:" + ws.data.booking, frame);
    },
  },
});

if (redisUrl) {
  pub = new Redis(redisUrl, { enableAutoPipelining: true });
  const sub = new Redis(redisUrl);
  await sub.psubscribe(prefix + "*");
  sub.on("pmessage", (_pattern, channel, frame) => {
    server.publish("b:" + channel.slice(prefix.length), frame);
  });
}
console.log(`bun peer on :${port} (${redisUrl ? "Redis fan-out" : "in-process"})`);

// The API path the tests and the bench use (test/helpers/api-bridge.ts) adds no stall, and its injected
// latency is what it says. Real: network namespaces, the kernel's TCP (its delayed ACK is what a
// Nagle stall waits for), the bridge and its node-side forwarder (test/cluster/node/forward.ts). The
// far end is a TCP server of the test's own on the root namespace's 127.0.0.1: the bridge forwards
// bytes, so what answers does not matter.
//
// The probe: a client inside the node namespace makes request/response exchanges on one connection,
// each request written in two segments 2 ms apart (as an HTTP client writes headers, then a body),
// each response in two writes. With Nagle's algorithm on a leg of the path, the second segment waits
// for the peer's delayed ACK of the first: 40 ms (Linux's minimum delayed-ACK time) per exchange. The
// probe must see that stall when the bridge leaves Nagle on, and must not see it as the bridge is
// built; the threshold (20 ms against 40) measures a kernel timer, not our speed.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, test } from "node:test";
import { startApiBridge, type ApiBridgeOptions } from "../helpers/api-bridge.ts";
import { createNetns, deleteNetns, execInNetns, type Netns } from "../helpers/netns.ts";

/** The probe's client: `node -e` in the node namespace; prints one line of exchange times (ms, the 2 ms gap included). */
const CLIENT = `
const net = require("node:net");
const [port, count] = process.argv.slice(1).map(Number);
const s = net.createConnection(port, "127.0.0.1");
s.setNoDelay(true);
const times = [];
let t0 = 0;
let buf = "";
const send = () => {
  t0 = performance.now();
  s.write("GET /x HTTP/1.1\\r\\n" + "h: v\\r\\n".repeat(40));
  setTimeout(() => s.write("\\r\\nEND\\n"), 2);
};
s.on("connect", send);
s.on("data", (d) => {
  buf += d;
  if (!buf.includes("BODY\\n")) return;
  buf = "";
  times.push(performance.now() - t0);
  if (times.length < count) send();
  else { process.stdout.write(times.map((t) => t.toFixed(2)).join(" ") + "\\n"); s.end(); }
});
`;

const GAP_MS = 2;
const EXCHANGES = 12;

let node: Netns;
let server: Server;
let port: number;

before(async () => {
  node = await createNetns("mt-bridge");
  // Answers each request (up to its END line) in two writes, Nagle off on its own side.
  server = createServer((s) => {
    s.setNoDelay(true);
    let buf = "";
    s.on("data", (d: Buffer) => {
      buf += d.toString();
      while (buf.includes("END\n")) {
        buf = buf.slice(buf.indexOf("END\n") + 4);
        s.write("HTTP/1.1 200 OK\r\n\r\n");
        s.write("BODY\n");
      }
    });
    s.on("error", () => s.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  port = address.port;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await deleteNetns(node.name);
});

/** Exchange times through a bridge with `options`, less the client's own gap; the first exchange (connection set-up) dropped. */
async function probe(options: ApiBridgeOptions): Promise<number[]> {
  const bridge = await startApiBridge(node.name, port, options);
  try {
    const r = await execInNetns(node.name, [process.execPath, "-e", CLIENT, String(port), String(EXCHANGES + 1)], { timeoutMs: 30_000 });
    return r.stdout.trim().split(" ").slice(1).map((t) => Number(t) - GAP_MS);
  } finally {
    await bridge.stop();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

describe("the API bridge of the tests and the bench", () => {
  test("the probe sees Nagle's delayed-ACK stall when the bridge leaves Nagle on", async () => {
    const times = await probe({ nagle: true });
    assert.equal(times.length, EXCHANGES);
    assert.ok(median(times) >= 35, `with Nagle on, each exchange should wait ≈ 40 ms for a delayed ACK; got ${times.join(", ")} ms`);
  });

  test("the bridge as built adds no stall: TCP_NODELAY on every leg", async () => {
    const times = await probe({});
    assert.equal(times.length, EXCHANGES);
    assert.ok(median(times) < 20, `an exchange through the bridge waited like a Nagle stall: ${times.join(", ")} ms`);
  });

  test("an injected delay holds every byte that long in each direction, and a new connection's first bytes a round trip more", async () => {
    const delay = 15;
    const bridge = await startApiBridge(node.name, port, { delayMs: delay });
    try {
      assert.equal(bridge.delayMs, delay);
      const exchanges = async (count: number): Promise<number[]> =>
        (await execInNetns(node.name, [process.execPath, "-e", CLIENT, String(port), String(count)], { timeoutMs: 30_000 })).stdout.trim().split(" ").map(Number);
      const [first = 0, ...rest] = await exchanges(4);
      // First exchange: 2 × delay (the handshake) + delay out + delay back; the others a delay each way.
      assert.ok(first >= 4 * delay, `first exchange ${String(first)} ms, expected ≥ ${String(4 * delay)}`);
      for (const t of rest) assert.ok(t >= 2 * delay, `exchange ${String(t)} ms, expected ≥ ${String(2 * delay)}`);
      // The delay is live: back to 0, exchanges are prompt again.
      bridge.setDelay(0);
      assert.equal(bridge.delayMs, 0);
      const [, ...prompt] = await exchanges(4);
      for (const t of prompt) assert.ok(t < 2 * delay, `exchange ${String(t)} ms after setDelay(0)`);
      assert.throws(() => { bridge.setDelay(-1); }, /0 to 10000/);
    } finally {
      await bridge.stop();
    }
  });
});

// Zapline's inbound work done the BullMQ way, for `make bench-peers` (tests/benchmarks/peers.py).
//
//   node worker.mjs produce FILE   adds one job per line of FILE (a UAZAPI webhook body, JSON),
//                                  one Queue.add each, as a webhook endpoint would; prints one JSON line
//   node worker.mjs work           a Worker (concurrency WORKER_CONCURRENCY, default 5); reads commands
//                                  on stdin ("wait N": answer once N jobs completed; "counters";
//                                  "close") and answers each with one JSON line
//
// Each job: deduplicate on the WhatsApp id (SET NX), upsert the lead and the conversation, store the
// message, count the day (one MULTI/EXEC), then ONE HTTP POST to the sandbox Centrifugo broadcast API.
// Settings from the environment: REDIS_URL (its database is used), CENTRIFUGO_API_URL,
// CENTRIFUGO_API_KEY, ORG_ID, QUEUE (default "inbound").
//
// Every ioredis client of the process (BullMQ's own connections included) is counted:
// `commands` = commands written, `round_trips` = writes to the socket (a pipeline or MULTI/EXEC is
// one write; a script is one EVALSHA, or EVALSHA + EVAL on NOSCRIPT).

import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";
import Redis from "ioredis";
import { Queue, Worker } from "bullmq";

const counters = { commands: 0, round_trips: 0 };
const pipelines = new WeakSet();
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (command, stream) {
  counters.commands += 1;
  if (stream && stream.isPipeline) {
    if (!pipelines.has(stream)) {
      pipelines.add(stream);
      counters.round_trips += 1;
    }
  } else {
    counters.round_trips += 1;
  }
  return sendCommand.call(this, command, stream);
};

const QUEUE = process.env.QUEUE || "inbound";
const connection = () => new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
const say = (object) => process.stdout.write(JSON.stringify(object) + "\n");

async function produce(file) {
  const bodies = readFileSync(file, "utf8").split("\n").filter(Boolean);
  const client = connection();
  const queue = new Queue(QUEUE, { connection: client });
  await queue.waitUntilReady();
  const before = { ...counters };
  const started = performance.now();
  for (const line of bodies) {
    // What a webhook endpoint does per request: parse, enqueue, answer.
    await queue.add("uazapi", JSON.parse(line), { removeOnComplete: true, removeOnFail: 5000 });
  }
  const ms = performance.now() - started;
  say({ produced: bodies.length, ms, commands: counters.commands - before.commands,
        round_trips: counters.round_trips - before.round_trips });
  await queue.close();
  await client.quit();
}

function digits(jid) {
  return String(jid || "").split("@")[0].replace(/\D/g, "");
}

async function work() {
  const org = process.env.ORG_ID || "org_bullmq";
  const api = process.env.CENTRIFUGO_API_URL;
  const apiKey = process.env.CENTRIFUGO_API_KEY;
  const data = connection(); // the application's own client, as a worker module would hold
  let completed = 0;
  let waiting = null;
  const day = (ms) => new Date(ms).toISOString().slice(0, 10);

  async function handle(job) {
    const body = job.data;
    const message = body.message;
    const waId = `${body.owner}:${message.messageid}`;
    const fresh = await data.set(`${org}:dedup:${waId}`, "1", "EX", 86400, "NX");
    if (fresh === null) return { duplicate: true };
    const phone = digits(message.sender_pn || message.chatid);
    const lead = `${org}:lead:${phone}`;
    const conversation = `${org}:conversation:${phone}`;
    const at = Number(message.messageTimestamp);
    const stored = {
      id: waId, conversation: phone, from_me: message.fromMe ? "1" : "0", type: message.type,
      text: message.text || "", at: String(at), sender: message.senderName || "",
    };
    await data.multi()
      .hset(lead, "phone", `+${phone}`, "name", message.senderName || "", "last_seen", String(at))
      .hsetnx(lead, "created_at", String(at))
      .hset(conversation, "lead", phone, "status", "open", "last_at", String(at), "preview", stored.text.slice(0, 120))
      .hsetnx(conversation, "opened_at", String(at))
      .hincrby(conversation, "unread", 1)
      .zadd(`${org}:inbox`, at, phone)
      .hset(`${org}:message:${waId}`, stored)
      .zadd(`${conversation}:messages`, at, waId)
      .hincrby(`${org}:stats:${day(at)}`, "inbound", 1)
      .exec();
    const answer = await fetch(`${api}/broadcast`, {
      method: "POST",
      headers: { "X-API-Key": apiKey, "Content-Type": "application/json" },
      body: JSON.stringify({
        channels: [`inbox:${org}`],
        data: { type: "message.created", message: stored },
        idempotency_key: `message.created:${waId}`,
      }),
    });
    if (!answer.ok) throw new Error(`centrifugo answered ${answer.status}`);
    await answer.arrayBuffer();
    return { stored: true };
  }

  const concurrency = Number(process.env.WORKER_CONCURRENCY || "5");
  const worker = new Worker(QUEUE, handle, { connection: connection(), concurrency, autorun: false });
  worker.on("completed", () => {
    completed += 1;
    if (waiting && completed >= waiting.count) {
      const resolve = waiting.resolve;
      waiting = null;
      resolve();
    }
  });
  worker.on("failed", (job, error) => process.stderr.write(`job ${job && job.id} failed: ${error}\n`));
  worker.run();
  await worker.waitUntilReady();
  say({ ready: true, concurrency });

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === "wait") {
      const count = Number(arg);
      const started = performance.now();
      if (completed < count) await new Promise((resolve) => (waiting = { count, resolve }));
      say({ completed, waited_ms: performance.now() - started, ...counters });
    } else if (cmd === "counters") {
      say({ completed, ...counters });
    } else if (cmd === "close") {
      await worker.close();
      await data.quit();
      say({ closed: true, ...counters });
      break;
    }
  }
}

const [mode, file] = process.argv.slice(2);
if (mode === "produce") await produce(file);
else if (mode === "work") await work();
else {
  process.stderr.write("usage: node worker.mjs produce FILE | work\n");
  process.exit(2);
}

// The peers' "problem rectification" workload (bench/workloads/rectification-workload.md)
// on XState 5 with better-sqlite3 (WAL, synchronous=FULL, one BEGIN..COMMIT per step),
// interleaved, each step durable before the next: the peer that issue 24's one-at-a-time
// target names ("1.2x XState + SQLite synchronous=FULL"), run by bench_rectification's
// variant xstate-sqlite-full in the same run as ours. Setup: bench/peers/setup.sh.
//
//   node bench/peers/xstate_sqlite.mjs --n N --dir DIR
// Prints one JSON object: transitions_per_s, instances_per_s, step_p50_ms, step_p99_ms.
// Exit 1 if any instance's final row is not the expected one.
import { createMachine, createActor, assign } from 'xstate';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const N = Number(args.n ?? 2000);
const dir = args.dir ?? '/var/tmp/bihuan-bench/xstate';
const T0 = 1672621200000;
const DAY = 86400000;

const id = (i) => 'P' + String(i).padStart(7, '0');
const at = (i, k) => T0 + i * 1000 + k * 3600000;
const note = (type, i) => `${type} note for ${id(i)}`.padEnd(50, '.');
const steps = [
  (i) => ({ type: 'report', actor: `cadre-${i % 430}` }),
  (i) => ({ type: 'claim', actor: `station-${i % 40}` }),
  (i) => ({ type: 'order', actor: `station-${i % 40}`, days: 7 }),
  (i) => ({ type: 'submit_evidence', actor: `biz-${i}` }),
  (i) => ({ type: 'recheck', actor: `inspector-${i % 100}`, pass: false }),
  (i) => ({ type: 'submit_evidence', actor: `biz-${i}` }),
  (i) => ({ type: 'recheck', actor: `inspector-${(i + 1) % 100}`, pass: true }),
];
const event = (i, k) => {
  const e = steps[k](i);
  return { ...e, note: note(e.type, i), at: at(i, k) };
};

const touch = (extra) => assign(({ context, event }) => ({ ...extra({ context, event }), lastNote: event.note, updatedAt: event.at }));
const machine = createMachine({
  id: 'rectification',
  initial: 'reported',
  context: ({ input }) => ({
    id: input.id, reporter: input.actor, claimedBy: null, orderedBy: null, deadline: null,
    submitter: null, rechecker: null, reopenCount: 0, lastNote: input.note, updatedAt: input.at,
  }),
  states: {
    reported: { on: { claim: { target: 'claimed', actions: touch(({ event }) => ({ claimedBy: event.actor })) } } },
    claimed: {
      on: { order: { target: 'rectifying', actions: touch(({ event }) => ({ orderedBy: event.actor, deadline: event.at + event.days * DAY })) } },
    },
    rectifying: { on: { submit_evidence: { target: 'evidence_submitted', actions: touch(({ event }) => ({ submitter: event.actor })) } } },
    evidence_submitted: {
      on: {
        recheck: [
          { guard: ({ context, event }) => event.actor !== context.submitter && event.pass, target: 'closed',
            actions: touch(({ event }) => ({ rechecker: event.actor })) },
          { guard: ({ context, event }) => event.actor !== context.submitter && !event.pass, target: 'rectifying',
            actions: touch(({ context, event }) => ({ rechecker: event.actor, reopenCount: context.reopenCount + 1 })) },
        ],
      },
    },
    closed: { type: 'final' },
  },
});

function expected(i) {
  return {
    id: id(i), reporter: `cadre-${i % 430}`, claimedBy: `station-${i % 40}`, orderedBy: `station-${i % 40}`,
    deadline: at(i, 2) + 7 * DAY, submitter: `biz-${i}`, rechecker: `inspector-${(i + 1) % 100}`, reopenCount: 1,
    lastNote: note('recheck', i), updatedAt: at(i, 6),
  };
}

function start(i) {
  const e = event(i, 0);
  const a = createActor(machine, { input: { id: id(i), actor: e.actor, note: e.note, at: e.at } });
  a.start();
  return a;
}

// Warm-up (untimed): 1,000 in-memory instances run through.
for (let i = 0; i < 1000; ++i) {
  const a = start(i);
  for (let k = 1; k < 7; ++k) a.send(event(i, k));
  if (a.getSnapshot().value !== 'closed') throw new Error('warm-up did not close');
  a.stop();
}
// Self-test: a recheck by the submitter is refused and changes nothing; the instance,
// restored from its persisted JSON into a new actor, finishes there.
{
  const a = start(0);
  for (let k = 1; k < 4; ++k) a.send(event(0, k));
  const before = JSON.stringify(a.getPersistedSnapshot());
  a.send({ ...event(0, 4), actor: 'biz-0' });
  if (JSON.stringify(a.getPersistedSnapshot()) !== before) throw new Error('self-test: refused recheck changed the instance');
  const b = createActor(machine, { snapshot: JSON.parse(before) });
  b.start();
  for (let k = 4; k < 7; ++k) b.send(event(0, k));
  if (JSON.stringify(b.getSnapshot().context) !== JSON.stringify(expected(0))) throw new Error('self-test: restored instance');
}

fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const db = new Database(path.join(dir, 'peers.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE instances(id TEXT PRIMARY KEY, seq INTEGER, snapshot TEXT) WITHOUT ROWID');
const up = db.prepare('INSERT INTO instances(id, seq, snapshot) VALUES(?, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, snapshot = excluded.snapshot');
const begin = db.prepare('BEGIN');
const commit = db.prepare('COMMIT');

const actors = new Array(N);
const us = new Float64Array(7 * N);
let n = 0;
const t0 = process.hrtime.bigint();
for (let k = 0; k < 7; ++k) {
  for (let i = 0; i < N; ++i) {
    const s0 = process.hrtime.bigint();
    if (k === 0) actors[i] = start(i);
    else actors[i].send(event(i, k));
    begin.run();
    up.run(id(i), k, JSON.stringify(actors[i].getPersistedSnapshot()));
    commit.run();
    us[n++] = Number(process.hrtime.bigint() - s0) / 1000;
  }
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

let bad = 0, rows = 0;
for (const row of db.prepare('SELECT id, snapshot FROM instances').iterate()) {
  ++rows;
  const s = JSON.parse(row.snapshot);
  const i = Number(row.id.slice(1));
  if (s.value !== 'closed' || JSON.stringify(s.context) !== JSON.stringify(expected(i))) ++bad;
}
db.close();
fs.rmSync(dir, { recursive: true, force: true });
const sorted = Array.from(us).sort((a, b) => a - b);
const out = {
  variant: 'xstate-sqlite-full', instances: N, transitions_per_s: (7 * N) / seconds, instances_per_s: N / seconds,
  step_p50_ms: sorted[Math.floor(sorted.length / 2)] / 1000, step_p99_ms: sorted[Math.floor(sorted.length * 0.99)] / 1000,
  verified: rows === N && bad === 0,
};
console.log(JSON.stringify(out));
process.exit(out.verified ? 0 : 1);

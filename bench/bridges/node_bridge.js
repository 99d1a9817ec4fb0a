#!/usr/bin/env node
// A Kafka -> CoT bridge written the way Node.js TAK tools usually are.
//
// It stands in for "the JavaScript tool chain" in
// `bench_pipeline --baseline-cmd` (bench/compare.sh runs it): detections in,
// CoT XML out to a Kafka topic, with KafkaJS, the client most Node.js
// bridges use. It does what cotflow's encoder does for a record (both input
// shapes, the type from the affiliation, uid <source>-<id>,
// time/start/stale, point, contact, track, remarks with the input's
// "seq=N").
//
// It is given its best case, not a strawman: the XML is built from a
// template with escaping (no DOM library), and each batch of a partition
// is produced with one request, awaited before its offsets are resolved;
// KafkaJS commits them once the batch is done (its default). There is no
// TAK destination, no dead-letter topic and no bound on memory other than
// KafkaJS's own.
//
// Environment (set by bench_pipeline): BENCH_BOOTSTRAP, BENCH_INPUT_TOPIC,
// BENCH_OUTPUT_TOPIC, BENCH_GROUP, BENCH_FETCH_WAIT_MS (empty: the default).
// Needs kafkajs on NODE_PATH (bench/compare.sh installs it with npm).
'use strict';

const { Kafka, logLevel } = require('kafkajs');

const STALE_MS = 120000;
const TYPES = { friend: 'a-f-G', hostile: 'a-h-G', neutral: 'a-n-G',
                unknown: 'a-u-G', suspect: 'a-s-G' };
const UNKNOWN = '9999999.0';

function esc(v) {
  return String(v).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;',
  }[c]));
}

// One detection (flat or GeoJSON Feature) as [xml, uid], or null.
function toCot(d, now) {
  let p, lat, lon, hae, id;
  if (d.type === 'Feature') {
    p = d.properties || {};
    [lon, lat, hae] = d.geometry.coordinates;
    id = d.id !== undefined ? d.id : p.id;
  } else {
    p = d;
    ({ lat, lon, hae, id } = d);
  }
  lat = Number(lat);
  lon = Number(lon);
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) ||
      id === undefined)
    return null;
  const source = p.source !== undefined ? p.source : 'cot';
  const uid = `${source}-${id}`;
  const t = new Date(now).toISOString();
  const stale = new Date(now + STALE_MS).toISOString();
  const type = p.type || TYPES[p.affiliation] || 'a-u-G';
  let xml = `<event version="2.0" uid="${esc(uid)}" type="${esc(type)}"` +
    ` how="${esc(p.how || 'm-g')}" time="${t}" start="${t}"` +
    ` stale="${stale}"><point lat="${lat.toFixed(7)}"` +
    ` lon="${lon.toFixed(7)}" hae="${hae === undefined ? UNKNOWN : esc(hae)}"` +
    ` ce="${esc(p.ce !== undefined ? p.ce : UNKNOWN)}"` +
    ` le="${esc(p.le !== undefined ? p.le : UNKNOWN)}"/><detail>`;
  if (p.callsign !== undefined)
    xml += `<contact callsign="${esc(p.callsign)}"/>`;
  if (p.course !== undefined || p.speed !== undefined)
    xml += `<track course="${esc(p.course || 0)}" speed="${esc(p.speed || 0)}"/>`;
  xml += `<remarks>${esc(`${p.classification || ''} ${p.confidence || ''}` +
    ` (${source}) ${p.remarks || ''}`)}</remarks></detail></event>`;
  return [xml, uid];
}

async function main() {
  const env = process.env;
  const kafka = new Kafka({ clientId: 'node-bridge',
                            brokers: [env.BENCH_BOOTSTRAP],
                            logLevel: logLevel.ERROR });
  const consumerConf = { groupId: env.BENCH_GROUP };
  if (env.BENCH_FETCH_WAIT_MS)
    consumerConf.maxWaitTimeInMs = Number(env.BENCH_FETCH_WAIT_MS);
  const consumer = kafka.consumer(consumerConf);
  const producer = kafka.producer();
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topics: [env.BENCH_INPUT_TOPIC],
                             fromBeginning: true });
  let bad = 0;
  let stopping = false;
  const stop = async () => {
    if (stopping)
      return;
    stopping = true;
    try {
      await consumer.disconnect();
      await producer.disconnect();
    } catch (e) {
      process.stderr.write(`node bridge: ${e}\n`);
    }
    process.stderr.write(`node bridge: stopped; ${bad} records refused\n`);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // One partition's batch at a time (KafkaJS's default): with several at
  // once, their sends waited on each other for ~40 ms on the embedded
  // broker, and the bridge fell behind at 300 records/s.
  await consumer.run({
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const now = Date.now();
      const messages = [];
      for (const m of batch.messages) {
        let cot = null;
        try {
          cot = toCot(JSON.parse(m.value), now);
        } catch (e) {
          cot = null;
        }
        if (cot === null)
          bad += 1;
        else
          messages.push({ key: cot[1], value: cot[0] });
      }
      if (messages.length > 0)
        await producer.send({ topic: env.BENCH_OUTPUT_TOPIC, messages });
      resolveOffset(batch.lastOffset());
      await heartbeat();
    },
  });
}

main().catch((e) => {
  process.stderr.write(`node bridge: ${e.stack || e}\n`);
  process.exit(1);
});

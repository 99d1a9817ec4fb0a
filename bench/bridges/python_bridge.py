#!/usr/bin/env python3
"""A Kafka -> CoT bridge written the way Python TAK tools usually are.

It stands in for "the Python tool chain" in `bench_pipeline --baseline-cmd`
(bench/compare.sh runs it): detections in, CoT XML out to a Kafka topic,
built with xml.etree the way PyTAK's gen_cot_xml builds events. It does what
cotflow's encoder does for a record (both input shapes, the type from the
affiliation, uid <source>-<id>, time/start/stale, point, contact, track,
remarks with the input's "seq=N").

It is given its best case, not a strawman: batched consume, produce without
a flush per message, the client's own auto-commit. It also lacks cotflow's
guarantees: auto-commit stores an offset as soon as the record is consumed,
so a crash between consume and delivery loses it, and there is no TAK
destination, no dead-letter topic and no backpressure.

The client is the first argument: confluent-kafka (librdkafka underneath,
the fastest Python client; the default) or kafka-python (pure Python, what
many small bridges use).

Environment (set by bench_pipeline): BENCH_BOOTSTRAP, BENCH_INPUT_TOPIC,
BENCH_OUTPUT_TOPIC, BENCH_GROUP, BENCH_FETCH_WAIT_MS (empty: the default).
Needs python3-confluent-kafka or python3-kafka (Debian).
"""

import json
import os
import signal
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone


STALE = timedelta(seconds=120)
TYPES = {"friend": "a-f-G", "hostile": "a-h-G", "neutral": "a-n-G",
         "unknown": "a-u-G", "suspect": "a-s-G"}
UNKNOWN = "9999999.0"


def cot_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def to_cot(d, now):
    """One detection (flat or GeoJSON Feature) as (CoT XML bytes, uid), or
    None when it is out of range."""
    if d.get("type") == "Feature":
        p = d.get("properties") or {}
        coords = d["geometry"]["coordinates"]
        lon, lat = coords[:2]
        hae = coords[2] if len(coords) > 2 else None
        ident = d.get("id") or p.get("id")
    else:
        p = d
        lat, lon, hae = d["lat"], d["lon"], d.get("hae")
        ident = d["id"]
    lat, lon = float(lat), float(lon)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    source = p.get("source", "cot")
    event = ET.Element("event", {
        "version": "2.0",
        "uid": "%s-%s" % (source, ident),
        "type": p.get("type") or TYPES.get(p.get("affiliation"), "a-u-G"),
        "how": p.get("how", "m-g"),
        "time": cot_time(now),
        "start": cot_time(now),
        "stale": cot_time(now + STALE),
    })
    ET.SubElement(event, "point", {
        "lat": "%.7f" % lat, "lon": "%.7f" % lon,
        "hae": UNKNOWN if hae is None else str(hae),
        "ce": str(p.get("ce", UNKNOWN)), "le": str(p.get("le", UNKNOWN)),
    })
    detail = ET.SubElement(event, "detail")
    if "callsign" in p:
        ET.SubElement(detail, "contact", {"callsign": str(p["callsign"])})
    if "course" in p or "speed" in p:
        ET.SubElement(detail, "track", {"course": str(p.get("course", 0)),
                                        "speed": str(p.get("speed", 0))})
    remarks = ET.SubElement(detail, "remarks")
    remarks.text = "%s %s (%s) %s" % (p.get("classification", ""),
                                      p.get("confidence", ""), source,
                                      p.get("remarks", ""))
    return ET.tostring(event), event.get("uid")


def run_confluent(env, out, stop):
    """confluent-kafka: librdkafka underneath, the fastest Python client."""
    from confluent_kafka import Consumer, Producer
    conf = {"bootstrap.servers": env["BENCH_BOOTSTRAP"]}
    consumer_conf = dict(conf, **{"group.id": env["BENCH_GROUP"],
                                  "auto.offset.reset": "earliest"})
    if env.get("BENCH_FETCH_WAIT_MS"):
        consumer_conf["fetch.wait.max.ms"] = int(env["BENCH_FETCH_WAIT_MS"])
    consumer = Consumer(consumer_conf)
    producer = Producer(conf)
    consumer.subscribe([env["BENCH_INPUT_TOPIC"]])
    bad = 0
    while not stop:
        # Wait for one record, then take what else is there without
        # waiting: consume(500, timeout) would hold a batch until 500
        # records came or the timeout passed, 100 ms at low rates.
        first = consumer.poll(0.1)
        if first is None:
            producer.poll(0)
            continue
        msgs = [first] + consumer.consume(num_messages=499, timeout=0)
        now = datetime.now(timezone.utc)
        for m in msgs:
            if m.error():
                continue
            cot = convert(m.value(), now)
            if cot is None:
                bad += 1
                continue
            while True:
                try:
                    producer.produce(out, cot[0], key=cot[1])
                    break
                except BufferError:
                    producer.poll(0.1)
        producer.poll(0)
    producer.flush(10)
    consumer.close()
    return bad


def run_kafka_python(env, out, stop):
    """kafka-python: the pure-Python client many small bridges use."""
    from kafka import KafkaConsumer, KafkaProducer
    fetch_wait = int(env.get("BENCH_FETCH_WAIT_MS") or 500)
    consumer = KafkaConsumer(env["BENCH_INPUT_TOPIC"],
                             bootstrap_servers=env["BENCH_BOOTSTRAP"],
                             group_id=env["BENCH_GROUP"],
                             auto_offset_reset="earliest",
                             fetch_max_wait_ms=fetch_wait)
    producer = KafkaProducer(bootstrap_servers=env["BENCH_BOOTSTRAP"])
    bad = 0
    while not stop:
        batches = consumer.poll(timeout_ms=100, max_records=500)
        now = datetime.now(timezone.utc)
        for records in batches.values():
            for m in records:
                cot = convert(m.value, now)
                if cot is None:
                    bad += 1
                    continue
                producer.send(out, cot[0], key=cot[1].encode())
    producer.flush(10)
    consumer.close()
    return bad


def convert(value, now):
    try:
        return to_cot(json.loads(value), now)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        # AttributeError: JSON that is not an object (null, [], 123).
        return None


def main():
    client = sys.argv[1] if len(sys.argv) > 1 else "confluent-kafka"
    runs = {"confluent-kafka": run_confluent, "kafka-python": run_kafka_python}
    if client not in runs:
        sys.exit("usage: python_bridge.py [confluent-kafka|kafka-python]")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    bad = runs[client](os.environ, os.environ["BENCH_OUTPUT_TOPIC"], stop)
    print("python bridge (%s): stopped; %d records refused" % (client, bad),
          file=sys.stderr)


if __name__ == "__main__":
    main()

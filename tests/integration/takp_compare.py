#!/usr/bin/env python3
"""Decodes the TAK Protocol version 1 messages cotflow wrote with Python's
protobuf (Debian's python3-protobuf; the classes compiled here from
cotflow's .proto by protoc) and compares each, field by field, with the
XML event cotflow wrote for the same record to an XML destination.

Usage: takp_compare.py PROTO XML_EVENTS [stream|mesh:MESSAGES]...

XML_EVENTS and each MESSAGES file hold items as a 4-byte little-endian
length then the bytes: CoT XML events; stream-frame payloads (TakMessage);
whole mesh datagrams (0xbf 0x01 0xbf, TakMessage). Events are matched by
the "seq=N" in their remarks, an event without one (a sensor's, written
from configuration) by its uid and time. The detail is compared the way the protocol
tells a receiver to rebuild it: xmlDetail parsed, the typed messages
merged in as their elements; the result must equal the XML's <detail>
child for child (in any order), and no element may be both typed and in
xmlDetail. Exit 0 when every message matches; prints what it compared.
"""
import datetime
import importlib
import pathlib
import re
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SEQ = re.compile(r"seq=(\d+)")


def items(path):
    data = pathlib.Path(path).read_bytes()
    at = 0
    while at < len(data):
        (n,) = struct.unpack_from("<I", data, at)
        at += 4
        yield data[at:at + n]
        at += n


def epoch_ms(text):
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return round(t.timestamp() * 1000)


def canonical(el):
    """An element as comparable data: tag, attributes, text, children."""
    attrs = dict(el.attrib)
    # Typed messages carry numbers, the XML their decimal text.
    if el.tag == "track":
        attrs = {k: float(v) for k, v in attrs.items()}
    if el.tag == "status" and "battery" in attrs:
        attrs["battery"] = int(attrs["battery"])
    return (el.tag, tuple(sorted(attrs.items())), (el.text or "").strip(),
            tuple(sorted(canonical(c) for c in el)))


def typed_elements(d):
    """The elements the typed messages of a Detail stand for."""
    out = []
    if d.HasField("contact"):
        a = {"callsign": d.contact.callsign}
        if d.contact.endpoint:
            a["endpoint"] = d.contact.endpoint
        out.append(("contact", a))
    if d.HasField("group"):
        out.append(("__group", {"name": d.group.name, "role": d.group.role}))
    if d.HasField("precisionLocation"):
        p = d.precisionLocation
        out.append(("precisionlocation",
                    {"geopointsrc": p.geopointsrc, "altsrc": p.altsrc}))
    if d.HasField("status"):
        out.append(("status", {"battery": str(d.status.battery)}))
    if d.HasField("takv"):
        t = d.takv
        out.append(("takv", {"device": t.device, "platform": t.platform,
                             "os": t.os, "version": t.version}))
    if d.HasField("track"):
        out.append(("track", {"speed": repr(d.track.speed),
                              "course": repr(d.track.course)}))
    return [ET.Element(tag, attrib) for tag, attrib in out]


def compare(msg, xml_bytes):
    """Differences between a TakMessage and the XML event, as text."""
    diffs = []
    ev = ET.fromstring(xml_bytes)
    e = msg.cotEvent

    def same(what, got, want):
        if got != want:
            diffs.append(f"{what}: protobuf {got!r}, XML {want!r}")

    for attr in ("uid", "type", "how"):
        same(attr, getattr(e, attr), ev.get(attr))
    for attr in ("access", "qos", "opex"):
        same(attr, getattr(e, attr), ev.get(attr, ""))
    same("time", e.sendTime, epoch_ms(ev.get("time")))
    same("start", e.startTime, epoch_ms(ev.get("start")))
    same("stale", e.staleTime, epoch_ms(ev.get("stale")))
    point = ev.find("point")
    for attr in ("lat", "lon", "hae", "ce", "le"):
        same(attr, getattr(e, attr), float(point.get(attr)))
    detail = ev.find("detail")
    want = [canonical(c) for c in (detail if detail is not None else [])]
    xml_detail = ET.fromstring("<detail>" + e.detail.xmlDetail + "</detail>")
    loose = list(xml_detail)
    typed = typed_elements(e.detail)
    both = {el.tag for el in loose} & {el.tag for el in typed}
    if both:
        diffs.append(f"typed and in xmlDetail at once: {sorted(both)}")
    got = [canonical(c) for c in loose + typed]
    same("detail", sorted(got), sorted(want))
    return diffs


def key_of_xml(x):
    """seq, or (uid, time in ms) for an event without one."""
    m = SEQ.search(x.decode())
    if m:
        return int(m.group(1))
    ev = ET.fromstring(x)
    return (ev.get("uid"), epoch_ms(ev.get("time")))


def key_of_message(msg):
    m = SEQ.search(msg.cotEvent.detail.xmlDetail)
    if m:
        return int(m.group(1))
    return (msg.cotEvent.uid, msg.cotEvent.sendTime)


def main():
    proto, xml_path, sources = sys.argv[1], sys.argv[2], sys.argv[3:]
    with tempfile.TemporaryDirectory() as out:
        proto = pathlib.Path(proto).resolve()
        subprocess.run(["protoc", f"-I{proto.parent}", f"--python_out={out}",
                        proto.name], check=True)
        sys.path.insert(0, out)
        pb = importlib.import_module(proto.stem + "_pb2")
    xml_by_key = {key_of_xml(x): x for x in items(xml_path)}
    failures, compared, controls, unnumbered = [], 0, 0, 0
    for source in sources:
        kind, _, path = source.partition(":")
        for raw in items(path):
            if kind == "mesh":
                if raw[:3] != b"\xbf\x01\xbf":
                    failures.append(f"mesh datagram without its header: "
                                    f"{raw[:8]!r}")
                    continue
                raw = raw[3:]
            msg = pb.TakMessage()
            msg.ParseFromString(raw)
            if msg.HasField("takControl"):
                controls += 1
                c = msg.takControl
                if (c.minProtoVersion, c.maxProtoVersion) != (1, 1):
                    failures.append(f"takControl {c}")
            key = key_of_message(msg)
            if key not in xml_by_key:
                failures.append(f"{kind}: no XML event for {msg.cotEvent.uid}")
                continue
            for d in compare(msg, xml_by_key[key]):
                failures.append(f"{kind} {key}: {d}")
            compared += 1
            unnumbered += not isinstance(key, int)
    for f in failures[:20]:
        print(f)
    print(f"compared {compared} messages with {len(xml_by_key)} XML events "
          f"({unnumbered} without a seq); {controls} carried takControl; "
          f"{len(failures)} differences")
    return 1 if failures or compared == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

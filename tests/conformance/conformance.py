#!/usr/bin/env python3
"""cotflow's conformance suite: its CoT events read by an independent TAK
parser (node-CoT), field by field (docs/conformance.md).

  conformance.py table   every row of tests/conformance/rows/*.yaml through
                         `cotflow validate` (`via: pipeline` or `tak`:
                         `cotflow run`, its file sink or a TAK destination)
                         and node-CoT (parse.mjs): the outcome, the row's
                         expected fields, and the fields that must come
                         back from the input
  conformance.py golden  docs/golden/*.json through `cotflow validate`: the
                         event must still be docs/golden/*.xml, times aside
                         (--update rewrites the XML files)
  conformance.py schema  every event of both against the CoT XSD (xmllint)

Environment: COTFLOW_BIN (the binary), COTFLOW_SOURCE_DIR (the tree),
COTFLOW_COT_XSD (the schema; missing: skipped, exit 77, unless
COTFLOW_REQUIRE_SHARED=1), COTFLOW_REQUIRE_NODE_COT=1 (tests/conformance/
node_modules missing is a failure, not a skip: `./dev test` sets it after
`npm ci`).
"""

import base64
import datetime as dt
import glob
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import yaml

# tests/cotflow_child.py: what the Python tests share about a cotflow child.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from cotflow_child import free_port, stop  # noqa: E402

SKIP = 77
SRC = os.environ.get("COTFLOW_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(SRC, "tests", "conformance")
GOLDEN = os.path.join(SRC, "docs", "golden")
UNKNOWN = 9999999.0

# The run's clock. Rows write times as tokens: $NOW is when the run
# started, $T five minutes later on a whole second. Records are dated $T:
# in the future, so that stale = max(now, time) + TTL is exactly $T + TTL
# however long the run takes (within the five minutes, CTest's timeout),
# and never too old.
NOW_MS = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
T_MS = (NOW_MS // 1000 + 300) * 1000
TOKEN = re.compile(r"\$(T|NOW)(?:([+-]\d+(?:\.\d+)?)s)?(_MS)?")


def rfc3339(ms):
    """Epoch ms as cotflow writes times: UTC with milliseconds."""
    t = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def to_ms(value):
    """An RFC 3339 text or epoch ms as epoch ms (None when neither)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    try:
        t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(round(t.timestamp() * 1000))


def token_ms(m):
    base = T_MS if m.group(1) == "T" else NOW_MS
    return base + int(round(float(m.group(2) or 0) * 1000))


def expand(value):
    """`value` with its time tokens replaced: a whole-string `$T_MS` (with
    an offset: `$T-5s_MS`) becomes the number, any other `$T`/`$NOW` the
    RFC 3339 text."""
    if isinstance(value, str):
        m = TOKEN.fullmatch(value)
        if m and m.group(3):
            return token_ms(m)
        return TOKEN.sub(lambda m: rfc3339(token_ms(m)), value)
    if isinstance(value, list):
        return [expand(v) for v in value]
    if isinstance(value, dict):
        return {k: expand(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- running


def cotflow_bin():
    path = os.environ.get("COTFLOW_BIN") or os.path.join(SRC, "build",
                                                         "cotflow")
    if not os.access(path, os.X_OK):
        sys.exit("conformance: no cotflow binary at %s (COTFLOW_BIN)" % path)
    return path


def config_file(settings, tmp):
    """A config file holding `settings` ({"cot.how": "h-e", ...})."""
    tree = {}
    for key, value in (settings or {}).items():
        node = tree
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    fd, path = tempfile.mkstemp(suffix=".yaml", dir=tmp)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        yaml.safe_dump(tree, f)
    return path


def lines(text):
    """The lines of `text`, split at line feeds only: str.splitlines also
    splits at U+0085, U+2028 and others, which an event's text may hold."""
    parts = text.split("\n")
    return parts[:-1] if parts and parts[-1] == "" else parts


def validate(records, settings, tmp):
    """`cotflow validate` over `records` (one line each): per record what
    it printed, an event's XML or "refused: ..."/"dropped: ..."."""
    # Only the row's settings: COTFLOW_* variables of the caller's
    # environment would override them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COTFLOW_")}
    run = subprocess.run(
        [cotflow_bin(), "validate", "--config", config_file(settings, tmp),
         "-"], input="".join(r + "\n" for r in records), env=env,
        capture_output=True, encoding="utf-8")
    if run.returncode not in (0, 1):
        sys.exit("conformance: cotflow validate exited %d: %s"
                 % (run.returncode, run.stderr))
    out = lines(run.stdout)
    if len(out) != len(records):
        sys.exit("conformance: %d records gave %d lines:\n%s"
                 % (len(records), len(out), run.stdout))
    return [re.sub(r"^line \d+: ", "", line) for line in out]


def http(url, body=None, timeout=5):
    """(status, text) of a GET, or of a POST of `body`; status 0 when
    nothing answers."""
    req = urllib.request.Request(url, data=body and body.encode())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def first_frame(data):
    """(payload, the rest) of the first whole TAK Protocol stream frame of
    `data`, or None while it is incomplete."""
    n, shift = 0, 0
    for at in range(1, len(data)):
        n |= (data[at] & 0x7F) << shift
        shift += 7
        if not data[at] & 0x80:
            end = at + 1 + n
            return (data[at + 1:end], data[end:]) if len(data) >= end else None
    return None


def is_event(out):
    """Whether a line of output is an event (CoT XML, or a TakMessage) rather
    than validate's "refused: ..." or "dropped: ..."."""
    return out.startswith("<event") or out.startswith("takp:")


class tak_receiver:
    """A TAK server that only listens: it takes TAK Protocol version 1
    stream frames (0xbf, the payload's length as a varint, a TakMessage)
    on every connection and keeps each payload, as "takp:" + base64, the
    form parse.mjs reads."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.frames = []
        self.problem = None
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.read, args=(conn,),
                             daemon=True).start()

    def read(self, conn):
        data = b""
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
                while data:
                    if data[0] != 0xBF:
                        self.problem = "not a TAK Protocol stream: %r" % data
                        return
                    whole = first_frame(data)
                    if whole is None:
                        break
                    payload, data = whole
                    self.frames.append(
                        "takp:" + base64.b64encode(payload).decode())

    def close(self):
        self.sock.close()


def pipeline(records, settings, tmp, via):
    """What `cotflow run` writes for `records`, each an encoded one: one
    process with the embedded broker (one partition, so the events come in
    the records' order), the records POSTed to its HTTP ingest (their Kafka
    timestamp is when the ingest produced them); via "pipeline" the events
    of its file sink, via "tak" the TakMessages it sends to a TAK
    destination speaking TAK Protocol version 1."""
    out = os.path.join(tmp, "pipeline-%d.cot" % free_port())
    ingest, ops = free_port(), free_port()
    settings = dict(settings, **{
        "kafka.brokers": "embedded", "ingest.address": "127.0.0.1:%d" % ingest,
        "http.address": "127.0.0.1:%d" % ops, "sinks.file": out})
    tak = tak_receiver() if via == "tak" else None
    if tak:
        settings["tak.destinations"] = {
            "conformance": "tcp://127.0.0.1:%d?protocol=1&hello=false"
                           % tak.port}

    def written():
        if tak:
            return list(tak.frames)
        if not os.path.exists(out):
            return []
        with open(out, encoding="utf-8") as f:
            return lines(f.read())

    env = {k: v for k, v in os.environ.items() if not k.startswith("COTFLOW_")}
    log = open(os.path.join(tmp, "pipeline.log"), "a+", encoding="utf-8")
    proc = subprocess.Popen(
        [cotflow_bin(), "run", "--config", config_file(settings, tmp),
         "--partitions", "1"], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while http("http://127.0.0.1:%d/health/ready" % ops)[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                sys.exit("conformance: cotflow run did not get ready:\n"
                         + log.read())
            time.sleep(0.1)
        status, answer = http("http://127.0.0.1:%d/v1/detections" % ingest,
                              "".join(r + "\n" for r in records), 30)
        if status != 202:
            sys.exit("conformance: the ingest answered %d: %s"
                     % (status, answer))
        got = []
        while time.monotonic() < deadline and not (tak and tak.problem):
            got = written()
            if len(got) >= len(records):
                return got
            time.sleep(0.1)
        sys.exit("conformance: cotflow run wrote %d events of %d records "
                 "(rows with via: %s must be encoded)%s"
                 % (len(got), len(records), via,
                    tak and tak.problem and ": " + tak.problem or ""))
    finally:
        stop(proc)
        log.close()
        if tak:
            tak.close()


def node_cot_dir():
    """tests/conformance when node-CoT is installed there, else None."""
    if os.path.isdir(os.path.join(HERE, "node_modules", "@tak-ps",
                                  "node-cot")):
        return HERE
    return None


def node_cot(events):
    """node-CoT's reading of each XML event: {"raw", "geojson"} or
    {"error"}."""
    run = subprocess.run(["node", os.path.join(HERE, "parse.mjs")],
                         input="".join(e + "\n" for e in events), cwd=HERE,
                         capture_output=True, encoding="utf-8", check=False)
    if run.returncode != 0:
        sys.exit("conformance: parse.mjs failed: " + run.stderr)
    parsed = [json.loads(line) for line in lines(run.stdout)]
    if len(parsed) != len(events):
        sys.exit("conformance: parse.mjs read %d of %d events"
                 % (len(parsed), len(events)))
    return parsed


# ----------------------------------------------------------- the table


def load_rows():
    rows = []
    for path in sorted(glob.glob(os.path.join(HERE, "rows", "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            for n, row in enumerate(yaml.safe_load(f) or [], 1):
                where = "%s #%d" % (os.path.relpath(path, SRC), n)
                if "name" not in row or ("input" in row) == ("input_raw"
                                                             in row):
                    sys.exit("conformance: %s needs a name and one of input, "
                             "input_raw" % where)
                row["where"] = where
                rows.append(row)
    if not rows:
        sys.exit("conformance: no rows in tests/conformance/rows/")
    return rows


def record_of(row):
    """The row's record: its input as compact JSON (tokens expanded), or
    input_raw as written."""
    if "input_raw" in row:
        return expand(row["input_raw"])
    return json.dumps(expand(row["input"]), ensure_ascii=False,
                      separators=(",", ":"))


def flatten(node, prefix, out):
    """node-CoT's raw parse (xml-js compact form) as flat keys: an
    attribute `prefix.attr`, a text `prefix`, an empty element `prefix`:
    True, the i-th of repeated elements `prefix[i]`."""
    if isinstance(node, list):
        for i, child in enumerate(node):
            flatten(child, "%s[%d]" % (prefix, i), out)
        return
    if not node:
        out[prefix] = True
        return
    for key, value in node.items():
        if key == "_attributes":
            for attr, v in value.items():
                out[prefix + "." + attr] = v
        elif key in ("_text", "_cdata"):
            out[prefix] = value
        else:
            flatten(value, prefix + "." + key if prefix else key, out)


def xml_view(raw):
    """The flat keys of an event: its attributes as `uid`, `type`, ...,
    `point.lat`, and its detail's elements as `contact.callsign`,
    `track.course`, `remarks`, `link[0].point`, `__forcedelete`."""
    flat = {}
    flatten(raw, "", flat)
    view = {}
    for key, value in flat.items():
        for prefix in ("event.detail.", "event."):
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        view[key] = value
    return view


def path_get(tree, path):
    """The value at a dotted path (`properties.callsign`,
    `geometry.coordinates[0]`) of a JSON tree, or KeyError."""
    node = tree
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            i = int(part[1:-1])
            if not isinstance(node, list) or i >= len(node):
                raise KeyError(path)
            node = node[i]
        else:
            if not isinstance(node, dict) or part not in node:
                raise KeyError(path)
            node = node[part]
    return node


OPS = {"near", "within_s", "contains", "matches", "present"}


def same(expected, actual):
    """Whether `actual` is `expected`: numbers numerically (XML's "38.1230000"
    is 38.123), lists and objects member by member."""
    if isinstance(expected, bool) or expected is None:
        return actual == expected
    if isinstance(expected, (int, float)):
        try:
            a = float(actual)
        except (TypeError, ValueError):
            return False
        return math.isclose(a, expected, rel_tol=1e-12, abs_tol=1e-9)
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(same(e, a) for e, a in zip(expected, actual)))
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and expected.keys() == actual.keys()
                and all(same(v, actual[k]) for k, v in expected.items()))
    return actual == expected


def check_value(expected, actual, absent):
    """None when `actual` matches `expected`, else the problem. `expected`
    null: absent; {near: T, within_s: S}: a time within S s of T;
    {contains: s}, {matches: regex}, {present: true}."""
    if expected is None:
        return None if absent else "should be absent, is %r" % (actual,)
    if absent:
        return "absent, expected %r" % (expected,)
    if isinstance(expected, dict) and expected and set(expected) <= OPS:
        if "near" in expected:
            want, got = to_ms(expected["near"]), to_ms(actual)
            slack = float(expected.get("within_s", 30)) * 1000
            if got is None or abs(got - want) > slack:
                return "%r is not within %g s of %s" % (
                    actual, slack / 1000, expected["near"])
        if "contains" in expected and expected["contains"] not in str(actual):
            return "%r does not contain %r" % (actual, expected["contains"])
        if "matches" in expected and not re.fullmatch(expected["matches"],
                                                      str(actual)):
            return "%r does not match /%s/" % (actual, expected["matches"])
        return None
    if not same(expected, actual):
        return "%r, expected %r" % (actual, expected)
    return None


def check_xml(view, key, expected):
    """A row's expectation of a flat key; null: neither the key nor
    anything under it (`track: null`: no track element)."""
    if expected is None:
        under = [k for k in view
                 if k == key or k.startswith(key + ".") or k.startswith(key +
                                                                        "[")]
        return None if not under else "should be absent, has %s" % under
    return check_value(expected, view.get(key), key not in view)


def check_geojson(geojson, path, expected):
    try:
        actual, absent = path_get(geojson, path), False
    except KeyError:
        actual, absent = None, True
    return check_value(expected, actual, absent)


# --------------------------------------------- what comes back from input


def input_fields(record, settings):
    """What the event must carry back from the record, by the input format
    (docs/input-format.md): {field: value}, or None for a record the
    generic checks cannot read (input_raw that is not plain JSON)."""
    try:
        rec = json.loads(record)
    except ValueError:
        return None
    if not isinstance(rec, dict):
        return None
    given = lambda v: v is not None and v != ""  # noqa: E731
    f = {}
    f["geometry"] = f["properties"] = None
    if rec.get("type") == "Feature":
        props = rec.get("properties") or {}
        f["geometry"], f["properties"] = rec.get("geometry") or {}, props
        coords = (rec.get("geometry") or {}).get("coordinates") or []
        if f["geometry"].get("type") != "Point":  # a drawing: its point is
            coords = []                           # checked by its rows
        ids = [rec.get("id"), props.get("uid"), props.get("id")]
        f["id"] = next((i for i in ids if given(i)), None)
        f["lon"], f["lat"] = (coords + [None, None])[:2]
        f["hae"] = coords[2] if len(coords) > 2 else props.get("hae")
        time = props.get("time")
        f["time"] = time if given(time) else props.get("start")
        f["start"] = props.get("start")
        f["stale"] = props.get("stale")
        f["type"] = props.get("type")
        fields = props
    else:
        f["id"] = rec.get("id")
        for k in ("lat", "lon", "hae", "time"):
            f[k] = rec.get(k)
        f["start"] = f["stale"] = f["type"] = None  # not read in a flat one
        fields = rec
    for k in ("source", "callsign", "course", "speed", "ce", "le", "how",
              "remarks", "geopointsrc", "altsrc", "stale_s", "ended"):
        f[k] = fields.get(k)
    f["uid"] = "%s%s%s" % (settings.get("cot.uid_prefix", ""),
                           "%s-" % f["source"] if given(f["source"]) else "",
                           f["id"])
    return f


def roundtrip(record, settings, view, geojson, via):
    """The problems of the event against its record: node-CoT must give
    back the record's position, id, callsign, course, speed, times... as
    the input format says they are written. Values cotflow clamped
    (`_cotflow_ clamped`) are left to the row's expectations."""
    f = input_fields(record, settings)
    if f is None:
        return []
    problems = []

    def expect(what, ok, got, want):
        if not ok:
            problems.append("round trip: %s is %r, the record says %r"
                            % (what, got, want))

    def near(a, b, decimals):
        try:
            return abs(float(a) - float(b)) <= 0.5 * 10**-decimals + 1e-12
        except (TypeError, ValueError):
            return False

    props = geojson.get("properties", {})
    if f["ended"] is True:
        expect("uid", view.get("uid") == f["uid"] + "-delete",
               view.get("uid"), f["uid"] + "-delete")
        expect("type", view.get("type") == "t-x-d-d", view.get("type"),
               "t-x-d-d")
        expect("link.uid", view.get("link.uid") == f["uid"],
               view.get("link.uid"), f["uid"])
        expect("__forcedelete", view.get("__forcedelete") is True,
               view.get("__forcedelete"), True)
        return problems
    clamped = set(str(view.get("_cotflow_.clamped", "")).split())
    if f["properties"] is not None:
        problems += cloudtak_roundtrip(f["geometry"], f["properties"], props,
                                       view)
    if f["geometry"] and f["geometry"].get("type") != "Point":
        return problems + drawing_roundtrip(f, view, props,
                                            geojson.get("geometry", {}))
    coords = geojson.get("geometry", {}).get("coordinates") or []
    expect("uid", view.get("uid") == f["uid"] and geojson.get("id")
           == f["uid"], geojson.get("id"), f["uid"])
    for i, k in ((0, "lon"), (1, "lat")):
        got = coords[i] if len(coords) > i else None
        expect("geometry " + k, near(got, f[k], 7), got, f[k])
    if "hae" not in clamped:
        want = UNKNOWN if f["hae"] is None else f["hae"]
        got = coords[2] if len(coords) > 2 else None
        expect("geometry hae", near(got, want, 1), got, want)
    for k in ("ce", "le"):
        if k not in clamped:
            want = UNKNOWN if f[k] is None else f[k]
            expect("point " + k, near(view.get("point." + k), want, 1),
                   view.get("point." + k), want)
    callsign = f["callsign"] if f["callsign"] not in (None, "") else f["id"]
    expect("callsign", props.get("callsign") == str(callsign),
           props.get("callsign"), callsign)
    for k, decimals in (("course", 1), ("speed", 2)):
        if k in clamped:
            continue
        got = view.get("track." + k)
        if f[k] is None:
            expect("track " + k, got is None, got, None)
        else:
            expect("track " + k, near(got, f[k], decimals), got, f[k])
    # node-CoT 12 reads speed only beside a course.
    if f["course"] is not None and "course" not in clamped:
        expect("GeoJSON course", near(props.get("course"), f["course"], 1),
               props.get("course"), f["course"])
        if f["speed"] is not None and "speed" not in clamped:
            expect("GeoJSON speed", near(props.get("speed"), f["speed"], 2),
                   props.get("speed"), f["speed"])
    for k in ("type", "how"):
        if f.get(k) not in (None, ""):
            expect(k, props.get(k) == str(f[k]), props.get(k), f[k])
    if f["remarks"] not in (None, ""):
        got = props.get("remarks", "")
        expect("remarks", str(f["remarks"]) in got, got, f["remarks"])
    # node-CoT 12's from_proto loses the typed precisionLocation (it looks
    # for "precisionlocation"; protobufjs names it in camel case), so a
    # TakMessage's is not checked here (tests/integration/takp_compare.py
    # compares it with the XML's).
    for k in ("geopointsrc", "altsrc") if via != "tak" else ():
        if f[k] not in (None, ""):
            got = view.get("precisionlocation." + k)
            expect("precisionlocation " + k, got == str(f[k]), got, f[k])
    dated_ms = to_ms(f["time"])
    if dated_ms is not None:
        expect("time", to_ms(props.get("time")) == dated_ms,
               props.get("time"), f["time"])
        start = to_ms(f["start"]) if f["start"] is not None else dated_ms
        expect("start", to_ms(props.get("start")) == start,
               props.get("start"), f["start"] or f["time"])
    if f["stale"] is not None:
        expect("stale", to_ms(props.get("stale")) == to_ms(f["stale"]),
               props.get("stale"), f["stale"])
    elif (f["stale_s"] is not None and "stale_s" not in clamped
          and dated_ms is not None and dated_ms > NOW_MS + 30000):
        # A record dated in the future: stale is exactly time + stale_s.
        want = dated_ms + int(f["stale_s"]) * 1000
        expect("stale", to_ms(props.get("stale")) == want,
               props.get("stale"), rfc3339(want))
    return problems


def as_text(v):
    """A JSON scalar as cotflow writes it into an attribute."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def hex_colour(v):
    """(#rrggbb, opacity) of a colour property as node-CoT gives it back:
    #RGB doubled, an ARGB integer's alpha as its opacity."""
    if isinstance(v, int):
        v &= 0xFFFFFFFF
        return "#%06x" % (v & 0xFFFFFF), (v >> 24) / 255
    v = v.lower()
    if len(v) == 4:
        v = "#" + "".join(c * 2 for c in v[1:])
    return v, 1.0


# The CloudTAK properties and the attributes cotflow copies of each
# (docs/input-format.md, "CloudTAK properties").
CLOUDTAK_ATTRS = {
    "group": ["name", "role"],
    "status": ["battery", "readiness"],
    "takv": ["device", "platform", "os", "version", "appid"],
    "contact": ["phone", "endpoint", "emailAddress", "xmppUsername",
                "sipAddress"],
}


def cloudtak_roundtrip(geometry, given, props, view):
    """The CloudTAK properties of a Feature, as node-CoT's to_geojson gives
    them back: each object's copied attributes as text, dest, mission,
    archived, icon, marker-color; and the links as node-CoT parsed them
    (its to_geojson leaves out a p-p link; milsym and milicon it does not
    know before node-CoT 13, so their rows check the parse)."""
    problems = []

    def expect(what, ok, got, want):
        if not ok:
            problems.append("round trip: %s is %r, the record says %r"
                            % (what, got, want))

    def attrs(obj, names):
        return {k: as_text(obj[k]) for k in names
                if obj.get(k) is not None}

    for prop, names in CLOUDTAK_ATTRS.items():
        obj = given.get(prop)
        if isinstance(obj, dict) and attrs(obj, names):
            want = attrs(obj, names)
            got = props.get(prop)
            expect(prop, got == want, got, want)
    links = given.get("links")
    if links and geometry.get("type") == "Point":
        for i, link in enumerate(links):
            at = "link[%d]" % i if len(links) > 1 else "link"
            for k, v in attrs(link, ["uid", "type", "relation", "url",
                                     "point", "callsign", "remarks", "mime",
                                     "production_time",
                                     "parent_callsign"]).items():
                got = view.get(at + "." + k)
                expect(at + "." + k, got == v, got, v)
    dest = given.get("dest")
    if dest:
        names = ["callsign", "uid", "group", "mission", "mission-guid"]
        want = ([attrs(d, names) for d in dest] if isinstance(dest, list)
                else [attrs(dest, names)])
        got = props.get("dest")
        got = got if isinstance(got, list) else [got]
        expect("dest", got == want, got, want)
    mission = given.get("mission")
    if isinstance(mission, dict):
        want = attrs(mission, ["type", "guid", "tool", "name", "authorUid"])
        if isinstance(mission.get("missionLayer"), dict):
            want["missionLayer"] = attrs(mission["missionLayer"],
                                         ["name", "parentUid", "type", "uid"])
        expect("mission", props.get("mission") == want,
               props.get("mission"), want)
    if given.get("archived") is True:
        expect("archived", props.get("archived") is True,
               props.get("archived"), True)
    icon = given.get("icon")
    if isinstance(icon, str) and icon:
        want = icon
        if ":" in icon:
            want = icon.replace(":", "/")
            want += "" if want.endswith(".png") else ".png"
        expect("icon", props.get("icon") == want, props.get("icon"), want)
    colour = given.get("marker-color")
    if colour is not None and geometry.get("type") == "Point":
        want, opacity = hex_colour(colour)
        if given.get("marker-opacity") is not None:
            opacity = round(given["marker-opacity"] * 255) / 255
        got = props.get("marker-color")
        expect("marker-color", (got or "").lower() == want, got, want)
        got = props.get("marker-opacity")
        expect("marker-opacity", got is not None
               and abs(got - opacity) < 1e-9, got, opacity)
    return problems


def drawing_roundtrip(f, view, props, geo):
    """A LineString or Polygon, as node-CoT reads the u-d-f shape back: its
    vertices (a ring closed), its type, stroke and fill."""
    problems = []
    geometry, given = f["geometry"], f["properties"]

    def expect(what, ok, got, want):
        if not ok:
            problems.append("round trip: %s is %r, the record says %r"
                            % (what, got, want))

    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    ring = coords if kind == "LineString" else coords[0]
    want = [[round(p[0], 7), round(p[1], 7)] for p in ring]
    if kind == "Polygon" and want[0] != want[-1]:
        want.append(want[0])
    # node-CoT reads a shape that ends where it starts as a Polygon.
    want_kind = "Polygon" if want[0] == want[-1] else "LineString"
    got_coords = geo.get("coordinates")
    if want_kind == "Polygon" and got_coords:
        got_coords = got_coords[0]
    got = [[round(float(c), 7) for c in p[:2]] for p in got_coords or []]
    expect("geometry type", geo.get("type") == want_kind, geo.get("type"),
           want_kind)
    expect("vertices", got == want, got, want)
    if not given.get("type"):
        expect("type", view.get("type") == "u-d-f", view.get("type"),
               "u-d-f")
    stroke, opacity = hex_colour(given.get("stroke") or "#555555")
    if given.get("stroke-opacity") is not None:
        opacity = round(given["stroke-opacity"] * 255) / 255
    expect("stroke", (props.get("stroke") or "").lower() == stroke,
           props.get("stroke"), stroke)
    got = props.get("stroke-opacity")
    expect("stroke-opacity", got is not None and abs(got - opacity) < 1e-9,
           got, opacity)
    width = given.get("stroke-width")
    want_width = 2 if width is None else width
    expect("stroke-width", props.get("stroke-width") == want_width,
           props.get("stroke-width"), want_width)
    style = given.get("stroke-style") or "solid"
    expect("stroke-style", props.get("stroke-style") == style,
           props.get("stroke-style"), style)
    if kind == "Polygon":
        fill, opacity = hex_colour(given.get("fill") or "#555555")
        opacity = 0.6 if given.get("fill") is None else opacity
        if given.get("fill-opacity") is not None:
            opacity = given["fill-opacity"]
        opacity = round(opacity * 255) / 255
        expect("fill", (props.get("fill") or "").lower() == fill,
               props.get("fill"), fill)
        got = props.get("fill-opacity")
        expect("fill-opacity", got is not None and abs(got - opacity) < 1e-9,
               got, opacity)
    return problems


def check_row(row, record, out, parsed):
    """The problems of one row: its outcome, its expected fields, and the
    round trip of its record."""
    want = expand(row.get("outcome", "encoded"))
    if not is_event(out):
        got = out
        if want == "encoded":
            return ["not encoded: " + got]
        return [] if got == want or re.fullmatch(
            re.escape(want) + r" \(.*\)", got) else [
                "outcome %r, expected %r" % (got, want)]
    if want != "encoded":
        return ["encoded, expected %r" % want]
    if "error" in parsed:
        return ["node-CoT refused the event: %s\n  %s" % (parsed["error"],
                                                          out)]
    view, geojson = xml_view(parsed["raw"]), parsed["geojson"]
    problems = []
    for key, expected in (row.get("expect") or {}).items():
        p = check_xml(view, key, expand(expected))
        if p:
            problems.append("%s: %s" % (key, p))
    for path, expected in (row.get("geojson") or {}).items():
        p = check_geojson(geojson, path, expand(expected))
        if p:
            problems.append("GeoJSON %s: %s" % (path, p))
    if row.get("roundtrip", True):
        problems += roundtrip(record, row.get("config") or {}, view, geojson,
                              row.get("via", "validate"))
    return problems


def run_table(rows, tmp):
    """Every row through validate, or with `via: pipeline` or `tak`
    through `cotflow run`, grouped by config and way (one process per
    group); returns
    [(row, record, output line)] in the rows' order."""
    groups = {}
    for i, row in enumerate(rows):
        via = row.get("via", "validate")
        if via not in ("validate", "pipeline", "tak"):
            sys.exit("conformance: %s: via is validate, pipeline or tak"
                     % row["where"])
        key = (via, json.dumps(row.get("config") or {}, sort_keys=True))
        groups.setdefault(key, []).append(i)
    results = [None] * len(rows)
    # validate first: it takes milliseconds, the pipeline seconds.
    slow_last = sorted(groups.items(), key=lambda g: g[0][0] != "validate")
    for (via, settings), members in slow_last:
        records = [record_of(rows[i]) for i in members]
        if any("\n" in r for r in records):
            sys.exit("conformance: a record holds a line feed")
        settings = json.loads(settings)
        outs = (validate(records, settings, tmp) if via == "validate" else
                pipeline(records, settings, tmp, via))
        for i, r, out in zip(members, records, outs):
            results[i] = (rows[i], r, out)
    return results


def table(tmp):
    if not node_cot_dir():
        msg = ("node-CoT is not installed: run `npm ci --prefix "
               "tests/conformance` (./dev test does)")
        if os.environ.get("COTFLOW_REQUIRE_NODE_COT") == "1":
            sys.exit("conformance: " + msg)
        print("conformance: skipped: " + msg)
        return SKIP
    results = run_table(load_rows(), tmp)
    events = [out for _, _, out in results if is_event(out)]
    parsed = iter(node_cot(events))
    failed = 0
    for row, record, out in results:
        problems = check_row(row, record, out,
                             next(parsed) if is_event(out) else {})
        if problems:
            failed += 1
            print("FAIL %s: %s\n  record: %s\n  event:  %s" % (
                row["where"], row["name"], record, out))
            for p in problems:
                print("    " + p)
    print("conformance: %d rows, %d events read by node-CoT, %d failed"
          % (len(results), len(events), failed))
    return 1 if failed else 0


# ---------------------------------------------------------- golden events


TIME_ATTR = re.compile(
    r'((?:time|start|stale|cotflow)=")(\d{4}-\d\d-\d\dT[^"]*)(")')


# The golden records are dated now (on the whole second before the run
# started), so that their times, moved back by --update, read as if they had
# been converted when they were made.
GOLDEN_MS = NOW_MS // 1000 * 1000


def dated(rec):
    """The object holding a record's time: a Feature's properties, else
    the record."""
    if rec.get("type") == "Feature":
        return rec.setdefault("properties", {})
    return rec


def golden_inputs():
    """[(name, record)] of docs/golden/*.json, each record dated now."""
    found = []
    for path in sorted(glob.glob(os.path.join(GOLDEN, "*.json"))):
        with open(path, encoding="utf-8") as f:
            rec = json.load(f)
        dated(rec)["time"] = rfc3339(GOLDEN_MS)
        found.append((os.path.splitext(os.path.basename(path))[0],
                      json.dumps(rec, ensure_ascii=False,
                                 separators=(",", ":"))))
    return found


def golden_settings():
    with open(os.path.join(GOLDEN, "config.yaml"), encoding="utf-8") as f:
        tree = yaml.safe_load(f) or {}
    return {"%s.%s" % (s, k): v for s, keys in tree.items()
            for k, v in keys.items()}


def golden_events(tmp):
    inputs = golden_inputs()
    outs = validate([r for _, r in inputs], golden_settings(), tmp)
    return [(name, record, out) for (name, record), out in zip(inputs, outs)]


def golden(tmp, update):
    """Each golden input must still give its golden event, times aside. With
    --update the XML files are rewritten, their times moved back to the
    input's own time, as if converted then."""
    failed = 0
    for name, record, out in golden_events(tmp):
        path = os.path.join(GOLDEN, name + ".xml")
        if update:
            with open(os.path.join(GOLDEN, name + ".json"),
                      encoding="utf-8") as f:
                shift = to_ms(dated(json.load(f))["time"]) - GOLDEN_MS
            out = TIME_ATTR.sub(lambda m: m.group(1) + rfc3339(
                to_ms(m.group(2)) + shift) + m.group(3), out)
            with open(path, "w", encoding="utf-8") as f:
                f.write(out + "\n")
            print("conformance: wrote " + os.path.relpath(path, SRC))
            continue
        with open(path, encoding="utf-8") as f:
            want = f.read().strip()
        blank = lambda x: TIME_ATTR.sub(r"\1…\3", x)  # noqa: E731
        if blank(out) != blank(want):
            failed += 1
            print("FAIL docs/golden/%s: cotflow now writes\n  %s\ninstead of"
                  "\n  %s\n(if the change is meant, review it and run "
                  "conformance.py golden --update)" % (name, out, want))
    if not update:
        print("conformance: golden events checked, %d differ" % failed)
    return 1 if failed else 0


# ------------------------------------------------------------------ schema


def schema(tmp):
    xsd = os.environ.get("COTFLOW_COT_XSD", "")
    if not os.access(xsd, os.R_OK):
        msg = "no CoT schema at COTFLOW_COT_XSD=%s" % (xsd or "(unset)")
        if os.environ.get("COTFLOW_REQUIRE_SHARED") == "1":
            sys.exit("conformance: COTFLOW_REQUIRE_SHARED=1 and " + msg)
        print("conformance: skipped: %s (COTFLOW_REQUIRE_SHARED=1 makes this "
              "a failure)" % msg)
        return SKIP
    xml_rows = [r for r in load_rows() if r.get("via") != "tak"]
    events = [("%s: %s" % (row["where"], row["name"]), out)
              for row, _, out in run_table(xml_rows, tmp)]
    events += [("docs/golden/" + name, out)
               for name, _, out in golden_events(tmp)]
    failed = 0
    checked = 0
    for what, out in events:
        if not out.startswith("<event"):
            continue
        checked += 1
        run = subprocess.run(["xmllint", "--noout", "--schema", xsd, "-"],
                             input=out, capture_output=True, encoding="utf-8")
        if run.returncode != 0:
            failed += 1
            print("FAIL %s: not valid CoT\n  %s\n  %s" % (what, out,
                                                          run.stderr.strip()))
    print("conformance: %d events against %s, %d invalid" % (checked, xsd,
                                                            failed))
    return 1 if failed else 0


def main(argv):
    if len(argv) < 2 or argv[1] not in ("table", "golden", "schema"):
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        if argv[1] == "table":
            return table(tmp)
        if argv[1] == "golden":
            return golden(tmp, "--update" in argv[2:])
        return schema(tmp)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

// Reads CoT events from stdin, one per line, and prints for each one JSON
// line of what node-CoT (@tak-ps/node-cot, the TAK parser CloudTAK uses)
// makes of it: {"raw": its parse of the event, "geojson": its
// to_geojson()}, or {"error": why it refused the event}. A line is CoT XML,
// or "takp:" and a TAK Protocol version 1 TakMessage in base64 (read with
// node-CoT's from_proto). The conformance suite
// (conformance.py) compares these with cotflow's input; node-CoT is an
// independent reading of cotflow's output, so this script must stay a plain
// call of the library, without fixes of its own.
import CoT from '@tak-ps/node-cot';
import readline from 'node:readline';

// node-CoT stamps every event it parses with its own flow tag
// (`NodeCoT-<version>`: the time of the parse): not part of cotflow's event.
function without_own_flow_tag(raw) {
  const tags = raw.event?.detail?.['_flow-tags_'];
  if (tags)
    for (const key of Object.keys(tags))
      if (key.startsWith('NodeCoT-')) delete tags[key];
  return raw;
}

const lines = readline.createInterface({ input: process.stdin,
                                        terminal: false });
for await (const line of lines) {
  if (!line.trim()) continue;
  let out;
  try {
    const cot = line.startsWith('takp:')
      ? CoT.from_proto(Buffer.from(line.slice(5), 'base64'))
      : new CoT(line);
    const geojson = cot.to_geojson();
    if (geojson.properties.flow)
      for (const key of Object.keys(geojson.properties.flow))
        if (key.startsWith('NodeCoT-')) delete geojson.properties.flow[key];
    out = { raw: without_own_flow_tag(cot.raw), geojson };
  } catch (err) {
    out = { error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

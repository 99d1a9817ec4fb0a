// Writes to stdout a self-contained HTML page that draws CoT events on a
// Leaflet map, from node-CoT's GeoJSON of each (the round trip a TAK web
// client such as CloudTAK makes): MIL-STD-2525 symbols from the CoT type
// (milsymbol), the callsign, course and speed as the symbol's modifiers.
// No tiles (offline): a plain background with a graticule. node-CoT's
// GeoJSON has no ce, so there is no error circle. Events without a place on
// the map (a delete) are listed under it.
// Usage: node render.mjs EVENT.xml... > map.html (docs/golden/render.sh).
import CoT from '@tak-ps/node-cot';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const asset = (p) => fs.readFileSync(path.join(here, 'node_modules', p), 'utf8');

const events = process.argv.slice(2).map((file) => {
  const xml = fs.readFileSync(file, 'utf8').trim();
  const feature = new CoT(xml).to_geojson();
  return { name: path.basename(file, '.xml'), feature };
});

// A script's text inside <script>: "</script" would end it early.
const inline = (text) => text.replace(/<\/script/gi, '<\\/script');

const page = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cotflow golden events</title>
<style>${asset('leaflet/dist/leaflet.css')}
html, body { margin: 0; font: 13px sans-serif; background: #fff; }
#map { width: 1000px; height: 620px; background: #e8ecef; }
#list { padding: 6px 10px; width: 980px; }
#list div { margin: 2px 0; }
.label { background: rgba(255,255,255,0.85); border: 0; box-shadow: none;
         font-weight: bold; }
</style></head><body>
<div id="map"></div><div id="list"></div>
<script>${inline(asset('leaflet/dist/leaflet.js'))}</script>
<script>${inline(asset('milsymbol/dist/milsymbol.js'))}</script>
<script>
const events = ${JSON.stringify(events)};

// CoT type a-h-G-E-V -> 2525B SIDC SHGPEV--------: the affiliation letter,
// the battle dimension, status present, the function id.
function sidc(type) {
  const p = type.split('-');
  if (p[0] !== 'a' || p.length < 3) return null;
  const fn = (p.slice(3).join('') + '------').slice(0, 6);
  return ('S' + p[1].toUpperCase() + p[2] + 'P' + fn + '-----').slice(0, 15);
}

const map = L.map('map', { zoomControl: false, attributionControl: false });
// Events of type t-... (a delete) say something about other events: they
// are listed, not drawn.
const drawn = (f) => !f.properties.type.startsWith('t-');
// A drawing (LineString, Polygon) is placed at its center, node-CoT's
// point of the event.
const shape = (f) => f.geometry.type !== 'Point';
const latlng = (f) => shape(f)
  ? [f.properties.center[1], f.properties.center[0]]
  : [f.geometry.coordinates[1], f.geometry.coordinates[0]];
const placed = events.filter((e) => drawn(e.feature));
const bounds = L.latLngBounds([]);
for (const { feature } of placed)
  bounds.extend(shape(feature) ? L.geoJSON(feature.geometry).getBounds()
                               : latlng(feature));
map.fitBounds(bounds.pad(0.1));

// A graticule every 0.002 degrees, labelled at the west and south edges.
const b = map.getBounds(), step = 0.002;
const label = (at, text, anchor) => L.marker(at, { icon: L.divIcon({
  className: '', iconAnchor: anchor,
  html: '<span style="color:#778">' + text + '</span>' }) }).addTo(map);
const line = (from, to) =>
  L.polyline([from, to], { color: '#b8c0c8', weight: 1 }).addTo(map);
for (let v = Math.ceil(b.getSouth() / step) * step; v < b.getNorth(); v += step) {
  line([v, b.getWest()], [v, b.getEast()]);
  label([v, b.getWest()], v.toFixed(3), [-3, 14]);
}
for (let v = Math.ceil(b.getWest() / step) * step; v < b.getEast(); v += step) {
  line([b.getSouth(), v], [b.getNorth(), v]);
  label([b.getSouth(), v], v.toFixed(3), [-2, 14]);
}

const list = document.getElementById('list');
list.innerHTML = '<b>cotflow golden events</b> (docs/golden/*.xml) read by '
  + 'node-CoT, drawn from its GeoJSON';
for (const { name, feature } of events) {
  const p = feature.properties;
  const entry = document.createElement('div');
  entry.textContent = name + ': ' + p.type + ' ' + feature.id + ' "'
    + p.callsign + '" how=' + p.how + (p.remarks ? ' - ' + p.remarks : '');
  list.appendChild(entry);
  if (!drawn(feature)) {
    entry.textContent = name + ': ' + p.type + ' ' + feature.id
      + ' (a delete: not drawn; TAK removes the track it links)';
    continue;
  }
  if (shape(feature)) {
    // As ATAK draws a u-d-f shape: its stroke and fill, dashed or not.
    const style = {
      color: p.stroke, opacity: p['stroke-opacity'], weight: p['stroke-width'],
      dashArray: p['stroke-style'] === 'dashed' ? '10 6'
        : p['stroke-style'] === 'dotted' ? '2 6' : null,
      fill: feature.geometry.type === 'Polygon', fillColor: p.fill,
      fillOpacity: p['fill-opacity'] };
    L.geoJSON(feature.geometry, { style }).addTo(map);
    label(latlng(feature), '<b style="color:#222;white-space:nowrap">'
      + p.callsign + '</b>', [40, 8]);
    continue;
  }
  const options = { size: 30, uniqueDesignation: p.callsign };
  if (p.group) options.additionalInformation = p.group.name + ' '
    + p.group.role;
  if (p.course !== undefined) options.direction = p.course;
  if (p.speed !== undefined) options.speed = p.speed + ' m/s';
  const hae = feature.geometry.coordinates[2];
  if (hae !== undefined && hae !== 9999999)
    options.altitudeDepth = hae + ' m HAE';
  const code = sidc(p.type);
  const sym = code && new ms.Symbol(code, options);
  if (sym && sym.isValid()) {
    const a = sym.getAnchor(), s = sym.getSize();
    L.marker(latlng(feature), { icon: L.divIcon({ className: '',
      html: sym.asSVG(), iconSize: [s.width, s.height],
      iconAnchor: [a.x, a.y] }) }).addTo(map);
  } else {
    L.circleMarker(latlng(feature), { radius: 6 }).addTo(map)
      .bindTooltip(p.callsign, { permanent: true, className: 'label' });
  }
}
</script></body></html>
`;
process.stdout.write(page);

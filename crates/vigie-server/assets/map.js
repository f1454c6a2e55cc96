// Maps without tiles: the street network comes from the OSM extract the server holds
// (/ui/streets), with the site polygons over it. Also the site form's polygon drawing and the
// vehicle study's critical paths coloured by speed.
import { t, api, errorText } from "./vigie.js";

const FALLBACK_CENTRE = [60.1699, 24.9384];
const SPEED_BANDS = [[16, "#1a9850"], [32, "#91cf60"], [48, "#fee08b"], [64, "#fc8d59"], [80, "#d73027"], [Infinity, "#7f0000"]];
const speedColour = (kmh) => SPEED_BANDS.find(([limit]) => kmh < limit)[1];

// RFC 7946 ring order, which the server's geometry checks follow: outer rings
// counter-clockwise, holes clockwise (a clockwise outer ring would enclose the rest of the
// Earth).
function signedArea(ring) {
  let sum = 0;
  for (let i = 1; i < ring.length; i++) sum += (ring[i][0] - ring[i - 1][0]) * (ring[i][1] + ring[i - 1][1]);
  return -sum / 2;
}
const wind = (ring, ccw) => ((signedArea(ring) > 0) === ccw ? ring : ring.slice().reverse());
const windPolygon = (rings) => rings.map((ring, i) => wind(ring, i === 0));
function rewind(g) {
  if (g.type === "Polygon") return { type: "Polygon", coordinates: windPolygon(g.coordinates) };
  if (g.type === "MultiPolygon") return { type: "MultiPolygon", coordinates: g.coordinates.map(windPolygon) };
  return g;
}

// A name as text, never as markup (street names come from OSM).
function textNode(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span;
}

function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

// A map with the streets of the visible area, reloaded as the view moves.
function baseMap(div) {
  const map = L.map(div, { preferCanvas: true, zoomSnap: 0.5 });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("© OpenStreetMap contributors");
  map.createPane("streets").style.zIndex = 350;
  const renderer = L.canvas({ pane: "streets" });
  let layer = null;
  let names = null;
  let timer = null;
  let asked = 0;
  const load = async () => {
    if (map.getZoom() < 13) {
      if (layer) layer.remove();
      if (names) names.remove();
      layer = null;
      names = null;
      return;
    }
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
    const ticket = ++asked;
    const result = await api("GET", div.dataset.streets + "?bbox=" + bbox);
    if (!result.ok || ticket !== asked) return;
    const lines = result.data.segments.map((s) => [[s[1], s[0]], [s[3], s[2]]]);
    if (layer) layer.remove();
    layer = L.polyline(lines, { renderer, color: "#8a96a3", weight: 1.5, interactive: false }).addTo(map);
    div.dataset.streetSegments = String(lines.length);
    // Street names from the same OSM data, once the map is close enough to read them.
    if (names) names.remove();
    names = null;
    // Every name from zoom 16; at 15, the 25 streets with the longest stretches.
    const zoom = map.getZoom();
    const labels = zoom >= 16 ? result.data.labels || [] : zoom >= 15 ? (result.data.labels || []).slice(0, 25) : [];
    if (labels.length) {
      names = L.layerGroup(
        labels.map(([lon, lat, name]) =>
          L.tooltip({ permanent: true, direction: "center", className: "street-name", interactive: false, opacity: 1 }).setLatLng([lat, lon]).setContent(textNode(name)),
        ),
      ).addTo(map);
    }
    div.dataset.streetNames = String(labels.length);
  };
  map.on("moveend", () => {
    clearTimeout(timer);
    timer = setTimeout(load, 120);
  });
  return map;
}

// Site outlines by id, for the dashboard to colour them by risk band.
const outlines = new Map();

function siteLayer(sites) {
  const group = L.featureGroup();
  for (const site of sites) {
    const shape = L.geoJSON(site.geometry, { style: { color: "#0b4f8a", weight: 2, fillOpacity: 0.25 } });
    shape.bindTooltip(site.name);
    if (site.href) shape.on("click", () => { location.href = site.href; });
    outlines.set(site.id, { shape, name: site.name });
    group.addLayer(shape);
  }
  return group;
}

// The dashboard names each assessed site's band and colour (results.js): the outline takes the
// colour and its tooltip the band; sites without a validated assessment stay blue.
function colourByBand(bands) {
  let coloured = 0;
  for (const [id, { colour, label }] of Object.entries(bands || {})) {
    const outline = outlines.get(id);
    if (!outline) continue;
    outline.shape.setStyle({ color: colour, fillColor: colour, fillOpacity: 0.45, weight: 3 });
    outline.shape.setTooltipContent(outline.name + " · " + label);
    coloured += 1;
  }
  // The map draws on a canvas: the count says what was coloured (the browser tests read it).
  const div = document.getElementById("map");
  if (div && coloured) div.dataset.colouredSites = String(coloured);
}
document.addEventListener("vigie:site-bands", (event) => colourByBand(event.detail));

function fit(map, layer) {
  const bounds = layer.getLayers().length ? layer.getBounds() : null;
  if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 });
  else map.setView(FALLBACK_CENTRE, 15);
}

function overviewMap(div) {
  const data = readJson("map-data") || { sites: [] };
  const map = baseMap(div);
  const sites = siteLayer(data.sites).addTo(map);
  // A warning's area (a bulletin's), drawn over the sites.
  for (const area of data.areas || []) sites.addLayer(L.geoJSON(area, { style: { color: "#b00020", weight: 2, dashArray: "6 4", fillOpacity: 0.1 }, interactive: false }));
  fit(map, sites);
  colourByBand(window.vigieSiteBands);
  const button = document.getElementById("filter-view");
  if (button) button.addEventListener("click", () => {
    const b = map.getBounds();
    document.getElementById("f-bbox").value = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
    button.form.submit();
  });
}

function hvmMap(div) {
  const data = readJson("hvm-data");
  const site = (readJson("map-data") || { sites: [] }).sites;
  const map = baseMap(div);
  const sites = siteLayer(site).addTo(map);
  const paths = L.featureGroup().addTo(map);
  const select = document.getElementById("hvm-class");
  const draw = () => {
    // The table shows the chosen vehicle, as the map does.
    for (const row of document.querySelectorAll("#hvm-rows tr")) row.hidden = row.dataset.class !== select.value;
    paths.clearLayers();
    for (const p of data.paths.filter((p) => p.class === select.value)) {
      const pts = p.path || [];
      const speeds = p.speeds || [];
      for (let i = 1; i < pts.length; i++) {
        const seg = L.polyline([[pts[i - 1][1], pts[i - 1][0]], [pts[i][1], pts[i][0]]], { color: speedColour(speeds[i] || 0), weight: 5, opacity: 0.9 });
        seg.bindTooltip(p.ap + " · " + p.class + " · " + Math.round(speeds[i] || 0) + " km/h");
        paths.addLayer(seg);
      }
      if (pts.length) L.circleMarker([pts[pts.length - 1][1], pts[pts.length - 1][0]], { radius: 6, color: "#000", fillColor: speedColour(p.speed_kmh || 0), fillOpacity: 1 })
        .bindTooltip(p.ap + ": " + Math.round(p.speed_kmh || 0) + " km/h").addTo(paths);
    }
  };
  select.addEventListener("change", draw);
  draw();
  const all = L.featureGroup([sites, paths]);
  fit(map, all);
}

// A polygon drawn by clicking its corners, or imported as a whole geometry; corners are
// dragged to move them (or moved with the arrow keys) and added between two corners. The site
// form and the threat-level and bulletin areas use it.
function polygonEditor(map, count) {
  let vertices = [];      // [lat, lng] of the outer ring being drawn
  let imported = null;    // a geometry taken as-is (e.g. a MultiPolygon)
  const shape = L.featureGroup().addTo(map);
  const redraw = () => {
    shape.clearLayers();
    if (imported) {
      shape.addLayer(L.geoJSON(imported, { style: { color: "#0b4f8a", weight: 2, fillOpacity: 0.25 } }));
      count.textContent = t("polygon_imported");
      return;
    }
    if (vertices.length >= 2) shape.addLayer(L.polygon(vertices, { color: "#0b4f8a", weight: 2, fillOpacity: 0.25, interactive: false }));
    // Corners are dragged to move them; the small handle between two corners adds one there.
    vertices.forEach((v, i) => {
      const corner = L.marker(v, { draggable: true, keyboard: true, icon: L.divIcon({ className: "vertex-handle", iconSize: [16, 16] }), title: t("corner") + " " + (i + 1), alt: t("corner") + " " + (i + 1) });
      corner.on("drag", (e) => { vertices[i] = [e.latlng.lat, e.latlng.lng]; });
      corner.on("dragend", redraw);
      // Keyboard: a focused corner moves with the arrow keys (not the map) and Delete removes
      // it. Its element exists once the map has a view, hence the "add" event.
      corner.on("add", () => corner.getElement().addEventListener("keydown", (ev) => {
        const step = { ArrowUp: [0, -5], ArrowDown: [0, 5], ArrowLeft: [-5, 0], ArrowRight: [5, 0] }[ev.key];
        if (!step && ev.key !== "Delete" && ev.key !== "Backspace") return;
        ev.preventDefault();
        ev.stopPropagation();
        if (step) {
          const p = map.latLngToContainerPoint(vertices[i]);
          const moved = map.containerPointToLatLng([p.x + step[0], p.y + step[1]]);
          vertices[i] = [moved.lat, moved.lng];
        } else vertices.splice(i, 1);
        redraw();
        const again = document.querySelectorAll(".vertex-handle")[Math.min(i, vertices.length - 1)];
        if (again) again.focus();
      }));
      shape.addLayer(corner);
    });
    if (vertices.length >= 3) vertices.forEach((v, i) => {
      const next = vertices[(i + 1) % vertices.length];
      // Tab reaches it (a keyboard marker) and Enter or Space adds the corner, which then has
      // the focus, ready for the arrow keys.
      const label = t("add_corner") + " " + (i + 1) + "–" + (((i + 1) % vertices.length) + 1);
      const middle = L.marker([(v[0] + next[0]) / 2, (v[1] + next[1]) / 2], { keyboard: true, title: label, alt: label, icon: L.divIcon({ className: "vertex-add", iconSize: [12, 12] }) });
      const addCorner = () => {
        vertices.splice(i + 1, 0, [(v[0] + next[0]) / 2, (v[1] + next[1]) / 2]);
        redraw();
        const added = document.querySelectorAll(".vertex-handle")[i + 1];
        if (added) added.focus();
      };
      middle.on("click", addCorner);
      middle.on("add", () => middle.getElement().addEventListener("keydown", (ev) => {
        if (ev.key !== "Enter" && ev.key !== " ") return;
        ev.preventDefault();
        ev.stopPropagation();
        addCorner();
      }));
      shape.addLayer(middle);
    });
    count.textContent = vertices.length + " " + t("points");
  };
  const add = (lat, lng) => {
    imported = null;
    vertices.push([lat, lng]);
    redraw();
  };
  map.on("click", (e) => add(e.latlng.lat, e.latlng.lng));
  return {
    shape,
    add,
    // Keyboard users pan the map with the arrow keys and add the point under the centre.
    addCentre: () => { const c = map.getCenter(); add(c.lat, c.lng); },
    undo: () => { imported = null; vertices.pop(); redraw(); },
    clear: () => { imported = null; vertices = []; redraw(); },
    load: (geometry) => {
      imported = null;
      vertices = [];
      if (geometry && geometry.type === "Polygon") vertices = geometry.coordinates[0].slice(0, -1).map(([lng, lat]) => [lat, lng]);
      else if (geometry) imported = geometry;
      redraw();
    },
    geometry: () => {
      if (imported) return rewind(imported);
      if (vertices.length < 3) return null;
      const ring = vertices.map(([lat, lng]) => [Number(lng.toFixed(7)), Number(lat.toFixed(7))]);
      ring.push(ring[0]);
      return rewind({ type: "Polygon", coordinates: [ring] });
    },
  };
}

// The buttons that go with a polygon editor (add the centre point, undo, clear).
function editorButtons(editor) {
  document.getElementById("add-centre").addEventListener("click", editor.addCentre);
  document.getElementById("undo-vertex").addEventListener("click", editor.undo);
  document.getElementById("clear-polygon").addEventListener("click", editor.clear);
}

// Site form: the polygon is drawn on the map or imported from a GeoJSON file.
function drawingForm(div) {
  const site = readJson("site-data");
  const map = baseMap(div);
  const error = document.getElementById("form-error");
  const editor = polygonEditor(map, document.getElementById("vertex-count"));
  editorButtons(editor);
  document.getElementById("s-file").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    try {
      let g = JSON.parse(await file.text());
      if (g.type === "FeatureCollection") g = (g.features.find((f) => f.geometry && /Polygon$/.test(f.geometry.type)) || {}).geometry;
      else if (g.type === "Feature") g = g.geometry;
      if (!g || !/Polygon$/.test(g.type)) throw new Error("no polygon");
      editor.load(g);
      fit(map, editor.shape);
      error.textContent = "";
    } catch {
      error.textContent = t("import_failed");
    }
  });
  editor.load(site.geometry);
  if (site.geometry) fit(map, editor.shape); else fit(map, L.featureGroup());

  const form = document.getElementById("site-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const g = editor.geometry();
    if (!form.name.value.trim()) { error.textContent = t("name_required"); form.name.focus(); return; }
    if (!g) { error.textContent = t("polygon_required"); return; }
    const body = { name: form.name.value.trim(), category: form.category.value, geometry: g, tags: site.tags || {} };
    if (form.address.value.trim()) body.address = form.address.value.trim();
    if (form.peak_occupancy.value !== "") body.peak_occupancy = Number(form.peak_occupancy.value);
    let result;
    if (site.id) {
      body.version = site.version;
      result = await api("PUT", "/api/v1/sites/" + encodeURIComponent(site.id), body);
    } else {
      result = await api("POST", "/api/v1/sites", body);
    }
    if (result.ok) {
      // A new site's page checks whether it looks like one the organisation already has.
      location.href = "/sites/" + result.data.id + (site.id ? "" : "?created=1");
    } else if (result.status === 409) {
      error.textContent = t("site_conflict");
    } else {
      error.textContent = errorText(result);
    }
  });
}

// An area for a warning (a threat level, a bulletin): the sites shown for orientation, the
// areas already in force in grey, and the polygon being drawn. The page's form reads it from
// `window.vigieArea()` (null for no area).
function areaMap(div) {
  const data = readJson("map-data") || { sites: [], areas: [] };
  const map = baseMap(div);
  // Not clickable: a click on the map adds a corner wherever it falls.
  const sites = L.featureGroup(data.sites.map((site) => L.geoJSON(site.geometry, { style: { color: "#0b4f8a", weight: 2, fillOpacity: 0.25 }, interactive: false }))).addTo(map);
  for (const area of data.areas || []) L.geoJSON(area, { style: { color: "#555", weight: 1, dashArray: "4 4", fillOpacity: 0.08 }, interactive: false }).addTo(map);
  const editor = polygonEditor(map, document.getElementById("vertex-count"));
  editorButtons(editor);
  fit(map, sites);
  window.vigieArea = editor.geometry;
}

// The field reports: each one a point, those of a sightings cluster numbered and red.
function reportsMap(div) {
  const data = readJson("map-data") || { reports: [] };
  const map = baseMap(div);
  const points = L.featureGroup(data.reports.map((r) => {
    const colour = r.cluster ? "#b00020" : "#0b4f8a";
    const label = r.cluster ? r.label + " · " + t("cluster") + " " + r.cluster : r.label;
    return L.circleMarker([r.lat, r.lon], { radius: 8, color: colour, fillColor: colour, fillOpacity: 0.7 }).bindTooltip(label);
  })).addTo(map);
  fit(map, points);
  div.dataset.points = String(data.reports.length);
}

// The report form's place: a click on the map, or the position the form was given.
function placeMap(div) {
  const map = baseMap(div);
  let marker = null;
  const put = (lat, lon) => {
    if (marker) marker.setLatLng([lat, lon]); else marker = L.marker([lat, lon], { keyboard: false }).addTo(map);
  };
  map.on("click", (e) => {
    put(e.latlng.lat, e.latlng.lng);
    document.dispatchEvent(new CustomEvent("vigie:place", { detail: { lat: e.latlng.lat, lon: e.latlng.lng } }));
  });
  document.addEventListener("vigie:place", (e) => { put(e.detail.lat, e.detail.lon); map.setView([e.detail.lat, e.detail.lon], Math.max(map.getZoom(), 16)); });
  map.setView(FALLBACK_CENTRE, 15);
}

document.addEventListener("DOMContentLoaded", () => {
  const reports = document.getElementById("reports-map");
  if (reports) reportsMap(reports);
  const place = document.getElementById("report-map");
  if (place) placeMap(place);
  const div = document.getElementById("map");
  if (div && div.dataset.draw === "area") areaMap(div);
  else if (div && div.dataset.draw) drawingForm(div);
  else if (div) overviewMap(div);
  const hvm = document.getElementById("hvm-map");
  if (hvm) hvmMap(hvm);
});

// The staff site's map: the records' GPS points, lines and shapes, read page by page from
// /reports/map/points (each page a bounded number of records), drawn by Leaflet, the points
// clustered by Leaflet.markercluster (both from npm, served by the server). With no tile
// address they are drawn on a blank background: a commune office with no Internet still sees them.
// Without Leaflet (an installation without node_modules) the points are only counted.

const root = document.getElementById('map');
const status = document.getElementById('map-status');
// Past this many points the browser would crawl: the page asks for a narrower filter.
const MAX_POINTS = 50000;

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));
}

function number(value) {
  return value.toLocaleString(document.documentElement.lang === 'vi' ? 'vi-VN' : 'en-GB');
}

async function readAll() {
  const records = [];
  let points = 0;
  let links = null;
  let url = new URL(root.dataset.points, window.location.href);
  url.searchParams.set('limit', root.dataset.limit);
  for (;;) {
    const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`points: ${response.status}`);
    const page = await response.json();
    links = page.links;
    for (const record of page.records) {
      records.push(record);
      // A line or shape counts as one place, as a point does.
      points += record.points.length + record.lines.length;
    }
    if (!page.next || points >= MAX_POINTS) return { records, points, links, capped: Boolean(page.next) };
    url = new URL(url);
    url.searchParams.set('after', page.next);
  }
}

function link(href, text, className) {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  a.className = className;
  return a;
}

// The popup: who, where, when, and the links; built as elements, never as HTML from the data.
function popup(record, links) {
  const box = document.createElement('div');
  const title = document.createElement('strong');
  title.textContent = [record.name, record.code].filter(Boolean).join(' · ') || record.village;
  const where = document.createElement('div');
  where.textContent = record.village;
  const address = (template, id) => template.replace('ID', encodeURIComponent(id));
  box.append(title, where, link(address(links.record, record.id), root.dataset.textRecord, 'popup-record'));
  if (record.household) {
    box.append(' · ', link(address(links.household, record.household), root.dataset.textHousehold, 'popup-household'));
  }
  return box;
}

function clusterIcon(cluster) {
  const count = cluster.getChildCount();
  const size = count < 10 ? 'small' : count < 100 ? 'medium' : 'large';
  const label = fill(root.dataset.textCluster, { count: number(count) });
  return window.L.divIcon({
    html: `<div><span class="cluster-count" aria-hidden="true">${count}</span><span class="visually-hidden">${label}</span></div>`,
    className: `marker-cluster marker-cluster-${size}`,
    iconSize: new window.L.Point(40, 40),
  });
}

function draw(records, links) {
  const L = window.L;
  // maxZoom is the map's own: with no tile layer Leaflet knows none, and the clusters need it.
  const map = L.map(root, { maxZoom: 19, worldCopyJump: true, zoomControl: false });
  // Leaflet's own words are English: its buttons say the page's language instead.
  L.control.zoom({ zoomInTitle: root.dataset.textZoomIn, zoomOutTitle: root.dataset.textZoomOut }).addTo(map);
  map.on('popupopen', (event) => {
    const close = event.popup.getElement().querySelector('.leaflet-popup-close-button');
    if (close) close.setAttribute('aria-label', root.dataset.textClose);
  });
  if (root.dataset.tiles) {
    L.tileLayer(root.dataset.tiles, { maxZoom: 19, attribution: root.dataset.attribution }).addTo(map);
  }
  const icon = L.divIcon({ className: 'map-point', iconSize: [16, 16] });
  const group = L.markerClusterGroup({ chunkedLoading: true, iconCreateFunction: clusterIcon });
  const markers = [];
  for (const record of records) {
    const label = [record.name, record.code, record.village].filter(Boolean).join(' · ');
    for (const [lat, lon] of record.points) {
      const marker = L.marker([lat, lon], { icon, title: label, alt: label, keyboard: true });
      marker.bindPopup(() => popup(record, links));
      markers.push(marker);
    }
  }
  group.addLayers(markers);
  map.addLayer(group);
  // Lines walked and shapes of land: drawn as they are, never clustered.
  const shapes = L.featureGroup();
  for (const record of records) {
    for (const [, kind, line] of record.lines) {
      const make = kind === 'geoshape' ? L.polygon : L.polyline;
      make(line, { color: '#0b6e4f', weight: 3, className: `map-${kind}` })
        .bindPopup(() => popup(record, links)).addTo(shapes);
    }
  }
  map.addLayer(shapes);
  const bounds = markers.length ? group.getBounds() : L.latLngBounds([]);
  if (shapes.getLayers().length) bounds.extend(shapes.getBounds());
  if (bounds.isValid()) {
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
  } else {
    map.setView([16, 106], 5); // Việt Nam, when there is nothing to show
  }
  return map;
}

async function start() {
  if (!root) return;
  try {
    const { records, points, links, capped } = await readAll();
    const counted = fill(root.dataset.textCount, { points: number(points), records: number(records.length) });
    status.textContent = capped ? `${counted} ${fill(root.dataset.textCapped, { points: number(points) })}` : counted;
    root.dataset.counted = String(points);
    if (root.dataset.vendor && window.L && window.L.markerClusterGroup) {
      draw(records, links);
      root.dataset.drawn = String(points);
    }
  } catch {
    status.textContent = root.dataset.textFailed;
    root.dataset.failed = '1';
  }
}

start();

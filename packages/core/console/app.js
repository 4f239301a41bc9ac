// The web console (docs/live.md): reads /api/cluster every second and draws the same picture as
// `logyard top`, a rate graph per drain (uPlot, served by the core), and a live tail over
// server-sent events. Nothing here loads from anywhere but the core.
'use strict';

const REFRESH_MS = 1000;
const TAIL_LINES = 500;
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('logyard-token') || '';
let filter = '';
const graphs = new Map();

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function row(cells, attrs) {
  const tr = document.createElement('tr');
  for (const c of cells) tr.appendChild(c instanceof Node ? c : el('td', String(c)));
  for (const [k, v] of Object.entries(attrs || {})) tr.setAttribute(k, v);
  return tr;
}

function rate(n) {
  return n >= 10 || n === 0 ? String(Math.round(n)) : n.toFixed(1);
}

function ago(unix) {
  const s = Math.max(0, Math.floor(Date.now() / 1000 - unix));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`;
}

function bytes(n) {
  return n < 1e3 ? `${n} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : n < 1e9 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e9).toFixed(1)} GB`;
}

function authHeaders() {
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function refresh() {
  try {
    const res = await fetch('/api/cluster', { headers: authHeaders(), cache: 'no-store' });
    if (res.status === 401) {
      $('token-form').hidden = false;
      $('problem').textContent = 'token needed';
      return;
    }
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    $('token-form').hidden = true;
    $('problem').textContent = '';
    draw(body);
  } catch (err) {
    $('problem').textContent = `cannot read the cluster: ${err.message}`;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

function draw(view) {
  const match = (name) => filter === '' || name.includes(filter);
  const drains = view.drains.filter((d) => match(d.name));
  $('summary').textContent = `${view.nodes.length} ${view.nodes.length === 1 ? 'node' : 'nodes'}, ${view.drains.length} drains, store ${view.store}, this node ${view.node_id}`;

  const drainBody = $('drains').tBodies[0];
  drainBody.replaceChildren(
    ...drains.flatMap((d) =>
      d.nodes.map((n, i) => {
        const dropped = Object.entries(n.dropped_per_s).filter(([, r]) => r > 0);
        return row(
          [
            i === 0 ? d.name : '',
            n.node_id,
            el('td', n.state, `state state-${n.state}`),
            rate(n.out_per_s),
            dropped.length ? dropped.map(([reason, r]) => `${rate(r)} ${reason}`).join(', ') : '0',
            d.buffer ? `${n.buffered}/${d.buffer} (${Math.round((n.buffered * 100) / d.buffer)}%)` : String(n.buffered),
            n.disk_bytes === undefined ? '-' : bytes(n.disk_bytes),
            el('td', n.error || '', 'error'),
          ],
          { 'data-drain': d.name, 'data-node': n.node_id, 'data-state': n.state },
        );
      }),
    ),
  );
  $('keys').tBodies[0].replaceChildren(
    ...view.keys.filter((k) => match(k.key)).slice(0, 20).map((k) => row([k.key, k.nodes.join(', '), rate(k.events_per_s), ago(k.last_seen)], { 'data-key': k.key })),
  );
  $('nodes').tBodies[0].replaceChildren(
    ...view.nodes.map((n) =>
      row([n.node_id, rate(n.in_per_s), n.clients.map((c) => (c.running ? c.name : `${c.name} (stopped)`)).join(', ') || '-', ago(n.updated)], { 'data-node': n.node_id }),
    ),
  );
  drawGraphs(view.history, drains.map((d) => d.name));
}

function drawGraphs(history, names) {
  const box = $('graphs');
  for (const [name, g] of graphs) {
    if (!names.includes(name)) {
      g.plot.destroy();
      g.div.remove();
      graphs.delete(name);
    }
  }
  for (const name of names) {
    const data = [history.t, history.drains[name] || history.t.map(() => null)];
    let g = graphs.get(name);
    if (!g) {
      const div = el('div', undefined, 'graph');
      div.setAttribute('data-graph', name);
      div.appendChild(el('h3', name));
      box.appendChild(div);
      const plot = new uPlot(
        {
          width: 360,
          height: 140,
          legend: { show: false },
          scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
          axes: [{}, { size: 40 }],
          series: [{}, { label: 'events/s out', stroke: '#2f6fb0', fill: 'rgba(47,111,176,.12)', width: 1.5, points: { show: true, size: 3 } }],
        },
        data,
        div,
      );
      g = { div, plot };
      graphs.set(name, g);
    } else {
      g.plot.setData(data);
    }
    g.div.setAttribute('data-points', String(data[1].filter((v) => v !== null).length));
  }
}

let tail = null;

function stopTail() {
  if (tail) tail.close();
  tail = null;
  $('tail-start').disabled = false;
  $('tail-stop').disabled = true;
  $('tail-state').textContent = '';
}

function startTail(prefix) {
  stopTail();
  const out = $('tail');
  out.textContent = '';
  const query = new URLSearchParams({ prefix });
  if (token) query.set('token', token);
  tail = new EventSource(`/api/tail?${query}`);
  $('tail-start').disabled = true;
  $('tail-stop').disabled = false;
  $('tail-state').textContent = `connecting…`;
  tail.addEventListener('drain', (e) => ($('tail-state').textContent = `tailing ${prefix || 'everything'} through drain ${JSON.parse(e.data).name}`));
  tail.onmessage = (e) => {
    const { key, event } = JSON.parse(e.data);
    const line = el('div', `${key} ${event.node_id || ''}: ${event.text !== undefined ? event.text : JSON.stringify(event)}`, 'tail-line');
    out.appendChild(line);
    while (out.childElementCount > TAIL_LINES) out.firstElementChild.remove();
    out.scrollTop = out.scrollHeight;
  };
  tail.onerror = () => ($('tail-state').textContent = 'tail interrupted; retrying…');
}

$('tail-form').addEventListener('submit', (e) => {
  e.preventDefault();
  startTail($('tail-prefix').value.trim());
});
$('tail-stop').addEventListener('click', stopTail);
$('filter').addEventListener('input', (e) => (filter = e.target.value.trim()));
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $('token').value.trim();
  sessionStorage.setItem('logyard-token', token);
  $('token-form').hidden = true;
});
window.addEventListener('pagehide', stopTail);
refresh();

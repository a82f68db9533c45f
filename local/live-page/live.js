// The live page: active conversations, just-ended ones, per-agent cards for today and an alert feed,
// kept current by the live stream and caught up from the query API on every (re)connect.
// Works against `npm start` (same origin, ws://host/live) and against the deployed stack
// (query API with SigV4, AppSync Events WebSocket): see README "Live monitoring".
import { signRequest } from './sigv4.js';

const $ = (id) => document.getElementById(id);
const STORE_KEY = 'threetone-live-settings';
const DAY_MS = 86_400_000;
const MAX_ENDED_SHOWN = 12;
const RECENT_MS = 12 * 3_600_000;
const MAX_ALERTS_SHOWN = 30;
const MAX_CATCH_UP_PAGES = 20;

// ---------------------------------------------------------------- settings

function loadSettings() {
  let saved = {};
  try { saved = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? '{}'); } catch { saved = {}; }
  // URL hash parameters (never sent to any server) override: #api=…&ws=…&key=…
  const hash = new URLSearchParams(location.hash.slice(1));
  for (const name of ['api', 'ws', 'key', 'region']) if (hash.get(name)) saved[name] = hash.get(name);
  return saved;
}
let settings = loadSettings();
const apiBase = () => (settings.api || location.origin).replace(/\/+$/, '');
const wsUrl = () => settings.ws || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/live`;
const isAppSync = (url) => /appsync-(realtime-)?api\./.test(new URL(url).host);

// ---------------------------------------------------------------- state

/** conversation_id → what the page knows of it. */
const convs = new Map();
/** Alerts, newest first; `key` dedupes the same alert seen on the stream and in a catch-up. */
const alerts = [];
const alertKeys = new Set();
const seenEvents = new Set();

const utcDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const today = () => utcDay(Date.now());
const ms = (iso) => (iso ? Date.parse(iso) : NaN);

function conv(id, agent) {
  let c = convs.get(id);
  if (!c) {
    c = { id, agent: agent ?? null, status: 'active', startedAt: null, endedAt: null, duration: null, resolution: null,
      satisfaction: null, turns: null, escalated: false, detailsStored: false, direction: null };
    convs.set(id, c);
  }
  if (agent && !c.agent) c.agent = agent;
  return c;
}

/** A record from the query API or a Completed/Updated event. Never moves a conversation back to active. */
function applyRecord(r) {
  if (!r || typeof r.conversation_id !== 'string') return;
  const c = conv(r.conversation_id, r.agent_id);
  if (c.detailsStored && !r.details_stored) return; // an older snapshot than what we have
  if (r.status === 'ended') c.status = 'ended';
  c.startedAt = r.started_at ?? c.startedAt;
  c.endedAt = r.ended_at ?? c.endedAt;
  c.duration = r.duration_seconds ?? c.duration;
  c.resolution = r.resolution_status ?? c.resolution;
  c.satisfaction = r.satisfaction_score ?? c.satisfaction;
  c.turns = r.turn_count ?? c.turns;
  c.direction = r.direction ?? c.direction;
  c.escalated = c.escalated || r.escalated === true;
  c.detailsStored = c.detailsStored || r.details_stored === true;
  for (const type of r.alerts ?? []) {
    addAlert({ key: `conv:${c.id}:${type}`, kind: type, conversation: c.id, agent: c.agent, time: c.endedAt ?? c.startedAt });
  }
}

function markEnded(id, agent, endedAt, extra = {}) {
  const c = conv(id, agent);
  c.status = 'ended';
  c.endedAt = c.endedAt ?? endedAt;
  if (extra.startedAt && !c.startedAt) c.startedAt = extra.startedAt;
  if (c.duration === null && typeof extra.duration === 'number') c.duration = extra.duration;
  if (extra.escalated) c.escalated = true;
}

/** One EventBridge envelope from the stream. */
function applyEnvelope(env) {
  const d = env?.detail;
  if (!d || typeof d !== 'object') return;
  if (d.event_id) {
    if (seenEvents.has(d.event_id)) return;
    seenEvents.add(d.event_id);
  }
  switch (env['detail-type']) {
    case 'Conversation Started': {
      const c = conv(d.conversation_id, d.agent_id);
      c.startedAt = c.startedAt ?? d.started_at ?? env.time;
      c.direction = c.direction ?? d.direction ?? null;
      break;
    }
    case 'Conversation Ended':
      markEnded(d.conversation_id, d.agent_id, d.ended_at ?? env.time, { startedAt: d.started_at, duration: d.duration_seconds, escalated: d.escalated });
      break;
    case 'Conversation Completed':
    case 'Conversation Updated':
      applyRecord(d);
      break;
    case 'Conversation Escalated':
      conv(d.conversation_id, d.agent_id).escalated = true;
      addAlert({ key: `conv:${d.conversation_id}:escalation`, kind: 'escalation', conversation: d.conversation_id, agent: d.agent_id, time: d.escalated_at ?? env.time, reason: d.reason });
      break;
    case 'Conversation Alert':
      addAlert({ key: `conv:${d.conversation_id}:${d.alert_type}`, kind: d.alert_type, conversation: d.conversation_id, agent: d.agent_id, time: env.time, value: d.value, threshold: d.threshold });
      break;
    case 'Platform Alert':
      addAlert({ key: `platform:${d.event_id}`, kind: d.alert_type, platform: true, time: env.time, message: d.message });
      break;
    case 'ThreeTone Event': {
      // The webhook itself: the live state does not wait for ThreeTone's details.
      const data = d.data ?? {};
      const id = typeof data.conversation_id === 'string' ? data.conversation_id : null;
      if (!id) break;
      if (d.event === 'conversation_started' || d.event === 'call_started') {
        const c = conv(id, data.agent_id);
        c.startedAt = c.startedAt ?? (typeof d.timestamp === 'string' ? d.timestamp : env.time);
      } else if (d.event === 'conversation_ended' || d.event === 'call_ended') {
        markEnded(id, data.agent_id, typeof d.timestamp === 'string' ? d.timestamp : env.time, {});
      }
      break;
    }
    default:
      return;
  }
  scheduleRender();
}

const ALERT_TEXT = {
  escalation: { icon: '⚑', title: 'Escalated', severity: 'medium' },
  long_duration: { icon: '◷', title: 'Long call', severity: 'medium' },
  low_satisfaction: { icon: '☹', title: 'Low satisfaction', severity: 'high' },
  dead_lettered: { icon: '⚠', title: 'Processing failed', severity: 'high' },
  system_error: { icon: '⚠', title: 'ThreeTone system error', severity: 'high' },
  quota_exceeded: { icon: '⚠', title: 'ThreeTone quota exceeded', severity: 'high' },
  maintenance_scheduled: { icon: 'ℹ', title: 'Maintenance scheduled', severity: 'info' },
};

function addAlert(a) {
  if (alertKeys.has(a.key)) {
    // The same alert from another event (e.g. `Conversation Escalated` after its `Conversation Alert`): fill gaps.
    const known = alerts.find((x) => x.key === a.key);
    if (known) for (const [k, v] of Object.entries(a)) if (known[k] === undefined || known[k] === null) known[k] = v;
    return;
  }
  alertKeys.add(a.key);
  alerts.push(a);
  alerts.sort((x, y) => (ms(y.time) || 0) - (ms(x.time) || 0));
  if (alerts.length > 200) alerts.length = 200;
}

// ---------------------------------------------------------------- query API (catch-up)

async function apiGet(path) {
  const url = `${apiBase()}${path}`;
  let headers = {};
  if (settings.accessKeyId && settings.secretAccessKey) {
    headers = await signRequest({
      method: 'GET', url, region: settings.region || 'us-east-1',
      credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey, sessionToken: settings.sessionToken || undefined },
    });
  } else if (settings.key && !isAppSyncKeyOnly()) {
    headers = { 'x-api-key': settings.key };
  }
  const res = await fetch(url, { headers });
  if (!res.ok) throw new Error(`query API answered ${res.status}`);
  return res.json();
}
// On AWS the key is AppSync's; the query API takes SigV4 instead.
const isAppSyncKeyOnly = () => isAppSync(wsUrl());

async function listAll(params) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < MAX_CATCH_UP_PAGES; page++) {
    const q = new URLSearchParams({ ...params, limit: '100', ...(cursor ? { cursor } : {}) });
    const body = await apiGet(`/conversations?${q}`);
    items.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/** What a reconnecting client may have missed: every conversation of the last 36 hours. */
async function catchUp() {
  const from = new Date(Date.now() - 1.5 * DAY_MS).toISOString();
  const [active, recent] = await Promise.all([listAll({ status: 'active', from }), listAll({ from })]);
  for (const r of [...recent, ...active]) applyRecord(r);
  scheduleRender();
}

// ---------------------------------------------------------------- live stream

let socket = null;
let retryMs = 500;
let generation = 0;

function setConnection(state, text) {
  const pill = $('connection');
  pill.dataset.state = state;
  $('connection-text').textContent = text;
}

function connect() {
  const gen = ++generation;
  socket?.close();
  const url = wsUrl();
  setConnection('connecting', 'Connecting…');
  let ws;
  try {
    ws = isAppSync(url) ? openAppSync(url) : new WebSocket(settings.key ? `${url}${url.includes('?') ? '&' : '?'}api_key=${encodeURIComponent(settings.key)}` : url);
  } catch {
    setConnection('error', 'Bad WebSocket URL');
    return;
  }
  socket = ws;
  ws.addEventListener('open', async () => {
    if (gen !== generation) return;
    setConnection('catching-up', 'Catching up…');
    try {
      await catchUp();
      if (gen !== generation) return;
      retryMs = 500;
      setConnection('live', 'Live');
    } catch {
      setConnection('error', 'Live, catch-up failed');
    }
  });
  if (!isAppSync(url)) ws.addEventListener('message', (m) => { try { applyEnvelope(JSON.parse(m.data)); } catch { /* not an envelope */ } });
  ws.addEventListener('close', () => {
    if (gen !== generation) return;
    setConnection('reconnecting', `Reconnecting in ${Math.round(retryMs / 100) / 10} s…`);
    setTimeout(() => gen === generation && connect(), retryMs);
    retryMs = Math.min(retryMs * 2, 15_000);
  });
}

/**
 * AppSync Events: subprotocol auth with the API key, then one subscription to every channel of
 * the `live` namespace. Returns the WebSocket; an 'open' event is dispatched once subscribed.
 */
function openAppSync(url) {
  const realtimeHost = new URL(url).host;
  const httpHost = realtimeHost.replace('appsync-realtime-api', 'appsync-api');
  const auth = { host: httpHost, 'x-api-key': settings.key ?? '' };
  const b64url = (s) => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const ws = new WebSocket(url, ['aws-appsync-event-ws', `header-${b64url(JSON.stringify(auth))}`]);
  const target = new EventTarget();
  const subscriptionId = crypto.randomUUID();
  ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
  ws.addEventListener('message', (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch { return; }
    if (msg.type === 'connection_ack') {
      ws.send(JSON.stringify({ type: 'subscribe', id: subscriptionId, channel: '/live/*', authorization: auth }));
    } else if (msg.type === 'subscribe_success') {
      target.dispatchEvent(new Event('open'));
    } else if (msg.type === 'data' && msg.id === subscriptionId) {
      try { applyEnvelope(JSON.parse(msg.event)); } catch { /* not an envelope */ }
    } else if (msg.type === 'subscribe_error' || msg.type === 'connection_error' || msg.type === 'error') {
      ws.close();
    }
  });
  ws.addEventListener('close', () => target.dispatchEvent(new Event('close')));
  return { addEventListener: (t, f) => target.addEventListener(t, f), close: () => ws.close() };
}

// ---------------------------------------------------------------- rendering

let pending = false;
function scheduleRender() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; render(); });
}

const clock = (secs) => {
  if (!Number.isFinite(secs) || secs < 0) return '–';
  const s = Math.round(secs);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
};
const timeOf = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }) : '');
const PALETTE = ['#5eead4', '#93c5fd', '#c4b5fd', '#fcd34d', '#f9a8d4', '#86efac', '#fdba74', '#a5f3fc'];
function hue(s) { let h = 0; for (const ch of s ?? '?') h = (h * 31 + ch.charCodeAt(0)) >>> 0; return PALETTE[h % PALETTE.length]; }
const initials = (agent) => (agent ?? '?').replace(/^agent[_-]?/i, '').split(/[_\-\s.]+/).filter(Boolean).slice(0, 2).map((p) => p[0].toUpperCase()).join('') || '?';
const agentName = (agent) => agent ?? 'Unknown agent';

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else if (k.startsWith('data-')) e.setAttribute(k, v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
const tag = (kind, text, label) => el('span', { class: 'tag', 'data-kind': kind, ...(label ? { title: label } : {}) }, text);

function reconcileList(list, items, key, build) {
  const existing = new Map([...list.children].map((n) => [n.dataset.key, n]));
  const wanted = items.map((it) => {
    const k = key(it);
    const old = existing.get(k);
    const fresh = build(it, old);
    if (fresh === old) return old;
    fresh.dataset.key = k;
    // Unchanged content keeps its node: no flicker, no restarted animation, focus stays.
    return old && old.outerHTML === fresh.outerHTML ? old : fresh;
  });
  // Keep nodes (and their focus) when they stay; replace the list's order.
  wanted.forEach((node, i) => { if (list.children[i] !== node) list.insertBefore(node, list.children[i] ?? null); });
  while (list.children.length > wanted.length) list.lastElementChild.remove();
}

function activeRow(c) {
  const started = ms(c.startedAt);
  const row = el('li', { class: 'row', 'data-conversation-id': c.id, 'data-status': 'active', tabindex: '0',
    'aria-label': `${agentName(c.agent)}, conversation ${c.id}, on a call since ${timeOf(c.startedAt)}` },
  el('span', { class: 'avatar', style: `background:${hue(c.agent)}`, 'aria-hidden': 'true' }, initials(c.agent)),
  el('span', { class: 'who' }, agentName(c.agent)),
  el('span', { class: 'timer', 'data-started': Number.isFinite(started) ? String(started) : '' }, el('small', {}, 'on call'), clock((Date.now() - started) / 1000)),
  el('span', { class: 'meta' }, `${c.id}${c.direction ? ` · ${c.direction}` : ''}`),
  c.escalated ? el('span', { class: 'tags' }, tag('warn', '⚑ Escalated')) : null);
  return row;
}

function endedRow(c) {
  const tags = [];
  if (typeof c.duration === 'number') tags.push(el('span', { class: 'tag', 'data-kind': 'info' }, el('span', { class: 'sr-only' }, 'Duration '), clock(c.duration)));
  if (c.resolution === 'resolved') tags.push(tag('good', '✓ Resolved'));
  else if (c.resolution === 'unresolved') tags.push(tag('bad', '✗ Unresolved'));
  else if (c.detailsStored) tags.push(tag('', '? Outcome unknown'));
  if (typeof c.satisfaction === 'number') tags.push(tag(c.satisfaction < 2.5 ? 'bad' : c.satisfaction >= 4 ? 'good' : '', `★ ${c.satisfaction.toFixed(1)}`, 'Satisfaction out of 5'));
  if (typeof c.turns === 'number') tags.push(tag('', `${c.turns} turns`));
  if (c.escalated) tags.push(tag('warn', '⚑ Escalated'));
  if (!c.detailsStored) tags.push(tag('', '… metrics pending'));
  const row = el('li', { class: 'row', 'data-conversation-id': c.id, 'data-status': 'ended', tabindex: '0' },
    el('span', { class: 'avatar', style: `background:${hue(c.agent)}`, 'aria-hidden': 'true' }, initials(c.agent)),
    el('span', { class: 'who' }, agentName(c.agent)),
    el('span', { class: 'timer' }, el('small', {}, 'ended'), timeOf(c.endedAt)),
    el('span', { class: 'meta' }, c.id),
    el('span', { class: 'tags' }, ...tags));
  return row;
}

function alertItem(a) {
  const t = ALERT_TEXT[a.kind] ?? { icon: '⚠', title: a.kind ?? 'Alert', severity: 'medium' };
  let text;
  if (a.platform) text = a.message ? `${a.message}` : 'Platform alert';
  else if (a.kind === 'escalation') text = `${agentName(a.agent)} · ${a.conversation}${a.reason ? ` · “${a.reason}”` : ''}`;
  else if (a.kind === 'long_duration') text = `${agentName(a.agent)} · ${a.conversation}${typeof a.value === 'number' ? ` · ${clock(a.value)} (limit ${clock(a.threshold)})` : ''}`;
  else if (a.kind === 'low_satisfaction') text = `${agentName(a.agent)} · ${a.conversation}${typeof a.value === 'number' ? ` · ★ ${a.value} (below ${a.threshold})` : ''}`;
  else text = `${agentName(a.agent)} · ${a.conversation ?? ''}`;
  return el('li', { 'data-severity': t.severity, 'data-kind': a.kind },
    el('span', { class: 'icon', 'aria-hidden': 'true' }, t.icon),
    el('span', { class: 'what' }, `${t.title}${t.severity === 'high' ? ' (urgent)' : ''}`),
    el('span', { class: 'when' }, `${timeOf(a.time)} · ${text}`));
}

function hourlyChart(agent, ended) {
  const W = 264, H = 54, top = 4, base = 42;
  const perHour = Array.from({ length: 24 }, () => ({ n: 0, esc: 0 }));
  for (const c of ended) { const h = new Date(ms(c.endedAt)).getUTCHours(); perHour[h].n++; if (c.escalated) perHour[h].esc++; }
  const max = Math.max(1, ...perHour.map((p) => p.n));
  const bw = W / 24;
  const busiest = perHour.reduce((b, p, h) => (p.n > perHour[b].n ? h : b), 0);
  const svgNS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', ended.length ? `${agentName(agent)}: conversations ended per hour today (UTC); busiest ${String(busiest).padStart(2, '0')}:00 with ${perHour[busiest].n}` : `${agentName(agent)}: no conversation ended yet today`);
  const add = (name, attrs, text) => { const n = document.createElementNS(svgNS, name); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); if (text) n.textContent = text; svg.append(n); return n; };
  add('line', { x1: 0, x2: W, y1: base + 0.5, y2: base + 0.5, class: 'axis' });
  perHour.forEach((p, h) => {
    if (!p.n) return;
    const hgt = Math.max(2, ((base - top) * p.n) / max);
    const bar = add('rect', { x: h * bw + 1.5, y: base - hgt, width: bw - 3, height: hgt, rx: 2, class: 'bar' });
    add('title', {}, `${String(h).padStart(2, '0')}:00 UTC: ${p.n} ended${p.esc ? `, ${p.esc} escalated` : ''}`);
    bar.append(svg.lastChild);
  });
  for (const h of [0, 6, 12, 18]) add('text', { x: h * bw + 1, y: H - 2 }, `${String(h).padStart(2, '0')}h`);
  return svg;
}

function stat(label, value) { return el('div', {}, el('dt', {}, label), el('dd', {}, value)); }
const avg = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

function render() {
  const day = today();
  const all = [...convs.values()];
  const active = all.filter((c) => c.status === 'active').sort((a, b) => (ms(a.startedAt) || 0) - (ms(b.startedAt) || 0));
  const endedToday = all.filter((c) => c.status === 'ended' && c.endedAt && utcDay(ms(c.endedAt)) === day)
    .sort((a, b) => ms(b.endedAt) - ms(a.endedAt));

  reconcileList($('active'), active, (c) => c.id, activeRow);
  $('active-empty').hidden = active.length > 0;
  $('active-count').textContent = String(active.length);
  // "Just ended" is about recency, not the UTC day (a call that ended at 23:59 is still news at 00:01).
  const recentSince = Date.now() - RECENT_MS;
  const endedRecently = all.filter((c) => c.status === 'ended' && ms(c.endedAt) >= recentSince).sort((a, b) => ms(b.endedAt) - ms(a.endedAt));
  reconcileList($('ended'), endedRecently.slice(0, MAX_ENDED_SHOWN), (c) => c.id, endedRow);
  $('ended-empty').hidden = endedRecently.length > 0;
  reconcileList($('alerts'), alerts.slice(0, MAX_ALERTS_SHOWN), (a) => a.key, alertItem);
  $('alerts-empty').hidden = alerts.length > 0;

  // Totals and agent cards: today's (UTC) ended conversations; rates over those with the value.
  const withOutcome = endedToday.filter((c) => c.resolution === 'resolved' || c.resolution === 'unresolved');
  const resolvedShare = (xs) => (xs.length ? `${Math.round((100 * xs.filter((c) => c.resolution === 'resolved').length) / xs.length)}%` : '–');
  $('total-active').textContent = String(active.length);
  $('total-ended').textContent = String(endedToday.length);
  $('total-resolution').textContent = resolvedShare(withOutcome);
  $('total-escalations').textContent = String(endedToday.filter((c) => c.escalated).length + active.filter((c) => c.escalated).length);

  const agents = new Map();
  for (const c of [...active, ...endedToday]) {
    const a = c.agent ?? 'unknown';
    if (!agents.has(a)) agents.set(a, { active: [], ended: [] });
    agents.get(a)[c.status === 'active' ? 'active' : 'ended'].push(c);
  }
  const cards = [...agents.entries()].sort((x, y) => y[1].ended.length + y[1].active.length - (x[1].ended.length + x[1].active.length) || x[0].localeCompare(y[0]));
  const holder = $('agents');
  holder.replaceChildren(...cards.map(([agent, { active: act, ended }]) => {
    const outcome = ended.filter((c) => c.resolution === 'resolved' || c.resolution === 'unresolved');
    const sat = avg(ended.map((c) => c.satisfaction).filter((v) => typeof v === 'number'));
    const dur = avg(ended.map((c) => c.duration).filter((v) => typeof v === 'number'));
    const esc = [...ended, ...act].filter((c) => c.escalated).length;
    return el('article', { class: 'card', 'data-agent-id': agent, 'aria-label': `Agent ${agent}` },
      el('header', {},
        el('span', { class: 'avatar', style: `background:${hue(agent)}`, 'aria-hidden': 'true' }, initials(agent)),
        el('h3', {}, agent),
        el('span', { class: 'now' }, act.length ? el('strong', {}, `● ${act.length} on call`) : 'idle')),
      el('dl', { class: 'stats' },
        stat('Conversations', String(ended.length)),
        stat('Resolved', resolvedShare(outcome)),
        stat('Satisfaction', sat === null ? '–' : `★ ${sat.toFixed(1)}`),
        stat('Avg duration', dur === null ? '–' : clock(dur)),
        stat('Escalations', String(esc)),
        stat('Active', String(act.length))),
      hourlyChart(agent, ended));
  }));
  $('agents-empty').hidden = cards.length > 0;
}

// Running durations tick without re-rendering the lists.
setInterval(() => {
  for (const t of document.querySelectorAll('.timer[data-started]')) {
    const started = Number(t.dataset.started);
    if (!started) continue;
    t.lastChild.textContent = clock((Date.now() - started) / 1000);
  }
}, 1000);

// ---------------------------------------------------------------- settings dialog

function openSettings() {
  const form = $('settings-form');
  for (const name of ['api', 'ws', 'key', 'region', 'accessKeyId', 'secretAccessKey', 'sessionToken']) form.elements[name].value = settings[name] ?? '';
  $('settings').showModal();
}
$('settings-open').addEventListener('click', openSettings);
$('settings').addEventListener('close', () => {
  if ($('settings').returnValue !== 'save') return;
  const form = $('settings-form');
  settings = {};
  for (const name of ['api', 'ws', 'key', 'region', 'accessKeyId', 'secretAccessKey', 'sessionToken']) {
    const v = form.elements[name].value.trim();
    if (v) settings[name] = v;
  }
  sessionStorage.setItem(STORE_KEY, JSON.stringify(settings));
  convs.clear(); alerts.length = 0; alertKeys.clear(); seenEvents.clear();
  render();
  connect();
});

render();
connect();

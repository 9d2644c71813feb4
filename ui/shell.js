// weft's system UI: launcher, taskbar, app windows, toasts, clock.
// Everything it knows comes over the cookie-authenticated WebSocket /ws
// (docs/api.md): requests carry a request_id and get exactly one answer;
// everything else that arrives is a broadcast. No framework, no other
// network access (the page's CSP allows this origin and app frames only).
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

// ---- state --------------------------------------------------------------------

/** app_id → {name, version} */
const installed = new Map();
/** session_id → {id, appId, state, li, win, frame, ended} */
const sessions = new Map();
let focused = null; // a session id, or null for the launcher
let ws = null;
let nextRequest = 1;
const pending = new Map(); // request_id → {resolve, reject}
let retryMs = 1000;
let retryTimer = null;

const appName = (appId) => installed.get(appId)?.name ?? appId;

// ---- the connection -----------------------------------------------------------

function request(msg) {
  return new Promise((resolve, reject) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return reject(new Error("not connected to weft"));
    const id = `r${nextRequest++}`;
    pending.set(id, { resolve, reject });
    ws.send(JSON.stringify({ ...msg, request_id: id }));
  });
}

function connect() {
  clearTimeout(retryTimer);
  retryTimer = null;
  setConn("connecting…", "");
  const sock = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws = sock;
  sock.onopen = async () => {
    retryMs = 1000;
    banner(null);
    setConn("connected", "ok");
    try {
      await refreshInstalled();
      await refreshRunning();
    } catch (e) {
      console.warn("weft: initial queries failed", e);
    }
  };
  sock.onmessage = (e) => {
    let m;
    try {
      m = JSON.parse(e.data);
    } catch {
      return;
    }
    if (m.request_id !== undefined && pending.has(m.request_id)) {
      const p = pending.get(m.request_id);
      pending.delete(m.request_id);
      return p.resolve(m);
    }
    onBroadcast(m);
  };
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    for (const p of pending.values()) p.reject(new Error("the connection to weft was lost"));
    pending.clear();
    setConn("offline", "bad");
    explainDisconnect();
  };
}

/** Unreachable, or reachable but our sign-in is stale (weft makes a new token at each start)? */
async function explainDisconnect() {
  let signedOut = false;
  try {
    const r = await fetch("/api/running", { credentials: "same-origin", cache: "no-store" });
    signedOut = r.status === 401;
  } catch {}
  if (signedOut) {
    banner("weft restarted and this page's sign-in is no longer valid. Open the address weft logged, with ?token= and the token from $XDG_RUNTIME_DIR/weft/appd.token.", false);
    return;
  }
  const secs = Math.round(retryMs / 1000);
  banner(`weft is unreachable. Reconnecting in ${secs} s…`, true);
  retryTimer = setTimeout(connect, retryMs);
  retryMs = Math.min(retryMs * 2, 10_000);
}

function banner(text, canRetry = true) {
  $("banner").hidden = text === null;
  $("banner").dataset.state = text === null ? "" : canRetry ? "unreachable" : "signed-out";
  if (text !== null) $("banner-text").textContent = text;
  $("reconnect").hidden = !canRetry;
}

function setConn(text, cls) {
  $("conn").textContent = text;
  $("conn").className = cls;
}

// ---- broadcasts ---------------------------------------------------------------

function onBroadcast(m) {
  switch (m.type) {
    case "LAUNCH_ACK":
      addSession(m.session_id, m.app_id, "starting");
      break;
    case "APP_READY":
      addSession(m.session_id, m.app_id, "running");
      toast({ kind: "ready", title: `${appName(m.app_id)} is ready`, app: m.app_id });
      break;
    case "APP_STATE":
      onState(m);
      break;
    case "NOTIFICATION":
      toast({ kind: "notification", title: String(m.title ?? ""), body: String(m.body ?? ""), app: m.app_id, icon: m.icon });
      break;
  }
}

function onState(m) {
  const s = sessions.get(m.session_id);
  if (m.state === "stopped" || m.state === "not_found") {
    if (!s) return;
    if (s.closing || !s.win) return removeSession(m.session_id);
    // It ended without being closed here: keep its window, say so, let the person close it.
    const why = m.exit ? (m.exit.message ?? (m.exit.kind === "exit" ? `exit ${m.exit.code}` : m.exit.kind)) : "stopped";
    setState(s, "stopped");
    s.win.querySelector(".ended")?.remove();
    s.win.insertBefore(el("p", { className: "ended", textContent: `This app has ended: ${why}.` }), s.frame);
    if (m.exit && !(m.exit.kind === "exit" && m.exit.code === 0) && m.exit.kind !== "stopped") toast({ kind: "error", title: `${appName(s.appId)} ended`, body: why, app: s.appId });
    return;
  }
  if (!s && m.app_id) addSession(m.session_id, m.app_id, m.state);
  else if (s) setState(s, m.state);
}

// ---- launcher -----------------------------------------------------------------

async function refreshInstalled() {
  const r = await request({ type: "QUERY_INSTALLED_APPS" });
  if (r.type !== "INSTALLED_APPS") throw new Error(r.message ?? r.type);
  installed.clear();
  const list = $("apps");
  list.replaceChildren();
  for (const a of r.apps.sort((x, y) => x.name.localeCompare(y.name))) {
    installed.set(a.app_id, { name: a.name, version: a.version });
    const tile = el(
      "button",
      { type: "button", className: "tile", title: `Launch ${a.name}` },
      el("span", { className: "name", textContent: a.name }),
      el("span", { className: "version", textContent: `version ${a.version}` }),
      el("span", { className: "id", textContent: a.app_id }),
    );
    tile.dataset.appId = a.app_id;
    tile.onclick = () => launch(a.app_id, tile);
    list.append(el("li", {}, tile));
  }
  list.setAttribute("aria-busy", "false");
  list.dataset.ready = "1";
  $("no-apps").hidden = r.apps.length > 0;
  for (const s of sessions.values()) s.li.querySelector(".focus").textContent = appName(s.appId);
}

async function launch(appId, tile) {
  $("launch-error").hidden = true;
  tile.disabled = true;
  try {
    const r = await request({ type: "LAUNCH_APP", app_id: appId, surface_id: 0 });
    if (r.type === "LAUNCH_ACK") {
      addSession(r.session_id, r.app_id, "starting");
      await openSession(r.session_id);
    } else {
      const why = r.message ?? `unexpected answer ${r.type}`;
      $("launch-error").textContent = `Could not launch ${appName(appId)}: ${why}`;
      $("launch-error").hidden = false;
      toast({ kind: "error", title: `Could not launch ${appName(appId)}`, body: why, app: appId });
    }
  } catch (e) {
    toast({ kind: "error", title: `Could not launch ${appName(appId)}`, body: e.message, app: appId });
  } finally {
    tile.disabled = false;
  }
}

async function refreshRunning() {
  const r = await request({ type: "QUERY_RUNNING" });
  if (r.type !== "RUNNING_APPS") return;
  const live = new Set(r.sessions.map((s) => s.session_id));
  for (const id of [...sessions.keys()]) if (!live.has(id)) removeSession(id);
  for (const s of r.sessions) addSession(s.session_id, s.app_id, sessions.get(s.session_id)?.state ?? "running");
}

// ---- taskbar and windows ----------------------------------------------------------

function addSession(id, appId, state) {
  let s = sessions.get(id);
  if (s) return setState(s, state === "starting" ? s.state : state);
  const focusBtn = el("button", { type: "button", className: "focus", textContent: appName(appId), title: `Show ${appName(appId)}` });
  const closeBtn = el("button", { type: "button", className: "close", textContent: "×", title: `Close ${appName(appId)}` });
  closeBtn.setAttribute("aria-label", `Close ${appName(appId)}`);
  const li = el("li", {}, focusBtn, closeBtn);
  li.dataset.sessionId = String(id);
  li.dataset.appId = appId;
  s = { id, appId, state, li, win: null, frame: null };
  sessions.set(id, s);
  focusBtn.onclick = () => openSession(id);
  closeBtn.onclick = () => terminate(id, closeBtn);
  $("running").append(li);
  setState(s, state);
}

function setState(s, state) {
  s.state = state;
  s.li.className = `state-${state}`;
  s.li.dataset.state = state;
}

async function openSession(id) {
  const s = sessions.get(id);
  if (!s) return;
  if (!s.win) {
    const title = el("span", { className: "title", textContent: `${appName(s.appId)} — session ${id}` });
    const close = el("button", { type: "button", textContent: "Close", onclick: () => terminate(id, close) });
    const min = el("button", { type: "button", textContent: "Hide", onclick: () => focus(null) });
    s.frame = el("iframe", { title: appName(s.appId) });
    // The app's page is on its own origin (s<id>.localhost); no popups, no navigating this page.
    s.frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms");
    s.win = el("section", { className: "window" }, el("header", {}, title, min, close), s.frame);
    s.win.dataset.sessionId = String(id);
    s.win.hidden = true;
    $("windows").append(s.win);
    try {
      const r = await request({ type: "QUERY_APP_UI", session_id: id });
      if (r.type !== "APP_UI") throw new Error(r.message ?? r.type);
      s.frame.src = r.url;
    } catch (e) {
      s.win.insertBefore(el("p", { className: "ended", textContent: `Cannot open this app's UI: ${e.message}` }), s.frame);
    }
  }
  focus(id);
}

function focus(id) {
  focused = sessions.has(id) ? id : null;
  for (const s of sessions.values()) {
    if (s.win) s.win.hidden = s.id !== focused;
    s.li.querySelector(".focus").setAttribute("aria-pressed", String(s.id === focused));
  }
  $("home").setAttribute("aria-pressed", String(focused === null));
  $("launcher").inert = focused !== null;
}

async function terminate(id, button) {
  const s = sessions.get(id);
  if (!s) return;
  if (s.state === "stopped") return removeSession(id);
  s.closing = true;
  button.disabled = true;
  try {
    const r = await request({ type: "TERMINATE_APP", session_id: id });
    if (r.type === "ERROR" && r.code !== 2) throw new Error(r.message);
    removeSession(id);
  } catch (e) {
    s.closing = false;
    button.disabled = false;
    toast({ kind: "error", title: `Could not close ${appName(sessions.get(id)?.appId ?? "")}`, body: e.message });
  }
}

function removeSession(id) {
  const s = sessions.get(id);
  if (!s) return;
  sessions.delete(id);
  s.li.remove();
  s.win?.remove();
  if (focused === id) focus(null);
}

// ---- toasts and clock ----------------------------------------------------------------

function toast({ kind, title, body = "", app = "", icon }) {
  const t = el("div", { className: "toast", role: "status" });
  t.dataset.kind = kind;
  if (app) t.append(el("div", { className: "app", textContent: appName(app) }));
  // Only inline images: the page fetches nothing from anywhere but weft.
  if (typeof icon === "string" && /^data:image\/(png|gif|jpeg|webp);base64,/.test(icon)) t.append(el("img", { src: icon, alt: "", width: 24, height: 24 }));
  t.append(el("div", { className: "title", textContent: title }));
  if (body) t.append(el("div", { className: "body", textContent: body }));
  t.onclick = () => t.remove();
  $("toasts").append(t);
  while ($("toasts").children.length > 5) $("toasts").firstElementChild.remove();
  setTimeout(() => t.remove(), kind === "error" ? 15_000 : 8_000);
}

function tick() {
  const now = new Date();
  $("clock").textContent = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  $("clock").dateTime = now.toISOString();
  setTimeout(tick, 1000 - now.getMilliseconds() + 5);
}

$("home").onclick = () => focus(null);
$("reconnect").onclick = () => {
  retryMs = 1000;
  connect();
};
tick();
connect();

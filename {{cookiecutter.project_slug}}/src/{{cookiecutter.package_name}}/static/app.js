// The demo page: a chat on /api/ws/chat (WebSocket) and a ticker on /api/sse (EventSource).
// Plain JavaScript, no build step. Text from the network only ever goes through textContent.
"use strict";

const MAX_DELAY = 10; // seconds between reconnection attempts, at most

// URLs relative to the page, so that it works on any host, port or path prefix.
function pageUrl(path, protocols) {
  const url = new URL(path, document.baseURI);
  if (protocols) url.protocol = url.protocol === "https:" ? protocols.secure : protocols.plain;
  return url;
}

// A status badge: data-state is for styling (and tests), the text is for people.
function showState(badge, state, text) {
  badge.dataset.state = state;
  badge.textContent = text;
}

// Reconnects with exponential backoff (1, 2, 4, 8, 10, 10… seconds, with jitter),
// counting down on the badge.
class Backoff {
  constructor(badge, connect) {
    this.badge = badge;
    this.connect = connect;
    this.attempt = 0;
    this.timer = null;
  }

  reset() {
    this.attempt = 0;
  }

  schedule() {
    if (this.timer !== null) return;
    const base = Math.min(MAX_DELAY, 2 ** this.attempt);
    const due = Date.now() + base * (0.75 + Math.random() / 4) * 1000;
    this.attempt += 1;
    const tick = () => {
      const left = Math.ceil((due - Date.now()) / 1000);
      if (left <= 0) {
        this.timer = null;
        this.connect();
        return;
      }
      showState(this.badge, "reconnecting", `reconnecting in ${left}s`);
      this.timer = setTimeout(tick, Math.min(1000, due - Date.now() - (left - 1) * 1000));
    };
    tick();
  }
}

function startChat() {
  const badge = document.getElementById("chat-state");
  const log = document.getElementById("chat-log");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const send = document.getElementById("chat-send");
  const me = document.getElementById("chat-me");
  const url = pageUrl("api/ws/chat", { plain: "ws:", secure: "wss:" });
  const backoff = new Backoff(badge, connect);
  let socket = null;
  let open = false;
  let name = null; // the server tells us in its welcome: "Welcome <name>!"

  function append(kind, who, text) {
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    const item = document.createElement("li");
    item.className = `msg ${kind}`;
    if (who) {
      const label = document.createElement("span");
      label.className = "who";
      label.textContent = who;
      item.append(label);
    }
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    item.append(body);
    log.append(item);
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function receive(event) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = { user: "", message: String(event.data) };
    }
    const user = String(data.user ?? "");
    const message = String(data.message ?? "");
    if (user === "server") {
      const welcome = /^Welcome (\S+)!$/.exec(message);
      if (welcome) {
        name = welcome[1];
        me.textContent = name;
      }
      append("notice", "", message);
    } else {
      const own = user === name;
      append(own ? "own" : "other", own ? "you" : user, message);
    }
  }

  function connect() {
    showState(badge, "connecting", "connecting…");
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      open = true;
      backoff.reset();
      showState(badge, "connected", "connected");
      send.disabled = false;
    });
    socket.addEventListener("message", receive);
    socket.addEventListener("close", (event) => {
      if (open) append("notice", "", `Disconnected (${[event.code, event.reason].join(" ").trim()}).`);
      open = false;
      send.disabled = true;
      backoff.schedule();
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || socket === null || socket.readyState !== WebSocket.OPEN) return;
    socket.send(text); // the server echoes it back, so it shows up once it has gone through
    input.value = "";
    input.focus();
  });

  connect();
}

function startTicker() {
  const badge = document.getElementById("ticker-state");
  const count = document.getElementById("tick-count");
  const time = document.getElementById("tick-time");
  const note = document.getElementById("tick-note");
  const backoff = new Backoff(badge, connect);
  let source = null;
  let lastId = "";
  let fresh = true; // the next event is the first of a (re)connection

  function tick(event) {
    const data = JSON.parse(event.data);
    lastId = event.lastEventId;
    count.textContent = String(data.count);
    time.textContent = new Date(data.time).toLocaleTimeString();
    if (fresh) {
      fresh = false;
      note.dataset.first = String(data.count);
      note.textContent = data.count > 1 ? `Resumed at ${data.count} after a reconnect.` : "Started at 1.";
    }
  }

  function connect() {
    showState(badge, "connecting", "connecting…");
    // The browser sends Last-Event-ID itself when it reconnects this EventSource; a new
    // EventSource (made when the browser gave up) carries the last id in the query instead.
    const url = pageUrl("api/sse");
    if (lastId) url.searchParams.set("last_event_id", lastId);
    source = new EventSource(url);
    source.addEventListener("open", () => {
      backoff.reset();
      fresh = true;
      showState(badge, "connected", "connected");
    });
    source.addEventListener("tick", tick);
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CONNECTING) {
        showState(badge, "reconnecting", "reconnecting…");
      } else {
        source.close();
        backoff.schedule();
      }
    });
  }

  connect();
}

startChat();
startTicker();

// The demo page: a chat with rooms on /api/ws/rooms/{room} (WebSocket) and a ticker on /api/sse
// (EventSource).
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

  cancel() {
    clearTimeout(this.timer);
    this.timer = null;
    this.reset();
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

// The server counts characters as code points, as [...text] does (not .length's UTF-16 units).
function nameProblem(name) {
  const length = [...name].length;
  return length >= 1 && length <= 32 ? "" : "A name is 1 to 32 characters.";
}

// A room name goes into the URL's path: one segment, never a dot segment.
function roomProblem(room) {
  if (!room) return "Pick a room.";
  if (room.includes("/") || room === "." || room === "..") return "A room name cannot be “.”, “..” or hold a “/”.";
  return "";
}

function startRooms() {
  const badge = document.getElementById("room-state");
  const joinForm = document.getElementById("join-form");
  const nameInput = document.getElementById("join-name");
  const roomInput = document.getElementById("join-room");
  const view = document.getElementById("room-view");
  const me = document.getElementById("room-me");
  const roomName = document.getElementById("room-name");
  const invite = document.getElementById("room-invite");
  const leave = document.getElementById("room-leave");
  const onlineList = document.getElementById("room-online");
  const log = document.getElementById("room-log");
  const sayForm = document.getElementById("say-form");
  const input = document.getElementById("say-input");
  const send = document.getElementById("say-send");
  const backoff = new Backoff(badge, connect);

  let room = null;
  let name = null;
  let socket = null;
  let lastId = ""; // the newest message id seen: a reconnect asks for what came after it
  let seen = new Set(); // message ids shown, so that nothing shows twice
  let onlineFetch = null; // the /online request under way, if any
  let onlineStale = false; // a join or leave came while it was under way

  function scrolledDown() {
    return log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  }

  function append(item) {
    const stick = scrolledDown();
    log.append(item);
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function notice(text, kind = "") {
    const item = document.createElement("li");
    item.className = `msg notice ${kind}`.trim();
    item.textContent = text;
    append(item);
  }

  function showMessage(frame) {
    const id = frame.id == null ? "" : String(frame.id);
    if (id) {
      if (seen.has(id)) return;
      seen.add(id);
      lastId = id;
    }
    const user = String(frame.user ?? "");
    const own = user === name;
    const item = document.createElement("li");
    item.className = `msg ${own ? "own" : "other"}`;
    if (id) item.dataset.id = id;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = own ? "you" : user;
    const when = document.createElement("time");
    const time = new Date(String(frame.time));
    if (!Number.isNaN(time.getTime())) {
      when.dateTime = time.toISOString();
      when.textContent = time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }
    who.append(" ", when);
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = String(frame.text ?? "");
    item.append(who, body);
    append(item);
  }

  function showOnline(names) {
    const everyone = new Set(names);
    if (socket !== null && socket.readyState === WebSocket.OPEN) everyone.add(name);
    onlineList.replaceChildren(
      ...[...everyone].sort().map((who) => {
        const item = document.createElement("li");
        item.textContent = who;
        if (who === name) item.className = "me";
        return item;
      }),
    );
  }

  // Asked again after every join and leave; a change during a request asks once more after it.
  async function refreshOnline() {
    if (onlineFetch !== null) {
      onlineStale = true;
      return;
    }
    const asked = room;
    onlineFetch = fetch(pageUrl(`api/rooms/${encodeURIComponent(asked)}/online`));
    try {
      const response = await onlineFetch;
      const body = await response.json();
      if (response.ok && asked === room) showOnline((body.online ?? []).map(String));
    } catch {
      // The socket's own reconnect asks again once the server is back.
    } finally {
      onlineFetch = null;
      if (onlineStale && asked === room) {
        onlineStale = false;
        refreshOnline();
      }
    }
  }

  function receive(event) {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "message":
        showMessage(frame);
        break;
      case "join":
        notice(`${frame.user} joined`, "join");
        refreshOnline();
        break;
      case "leave":
        notice(`${frame.user} left`, "leave");
        refreshOnline();
        break;
      case "gap":
        notice("Some earlier messages are no longer kept by the server.", "gap");
        break;
      default:
        if (frame.error) notice(`The server refused that: ${frame.error}.`, "error");
    }
  }

  function connect() {
    showState(badge, "connecting", "connecting…");
    const url = pageUrl(`api/ws/rooms/${encodeURIComponent(room)}`, { plain: "ws:", secure: "wss:" });
    url.searchParams.set("name", name);
    if (lastId) url.searchParams.set("since", lastId);
    const current = new WebSocket(url);
    socket = current;
    let opened = false;
    current.addEventListener("open", () => {
      opened = true;
      backoff.reset();
      showState(badge, "connected", "connected");
      send.disabled = false;
      refreshOnline();
    });
    current.addEventListener("message", (event) => {
      if (socket === current) receive(event);
    });
    current.addEventListener("close", (event) => {
      if (socket !== current) return; // left the room meanwhile
      if (opened) notice(`Disconnected (${[event.code, event.reason].join(" ").trim()}).`, "down");
      send.disabled = true;
      onlineList.replaceChildren();
      backoff.schedule();
    });
  }

  function enter(newName, newRoom) {
    name = newName;
    room = newRoom;
    lastId = "";
    seen = new Set();
    log.replaceChildren();
    onlineList.replaceChildren();
    sessionStorage.setItem("name", name);
    localStorage.setItem("name", name);
    // The address names the room, not the visitor: copied, it invites someone else.
    const address = new URL(location.href);
    address.search = new URLSearchParams({ room }).toString();
    history.replaceState(null, "", address);
    invite.href = address.href;
    me.textContent = name;
    roomName.textContent = room;
    joinForm.hidden = true;
    view.hidden = false;
    connect();
    input.focus();
  }

  function ask() {
    joinForm.hidden = false;
    view.hidden = true;
    showState(badge, "idle", "not in a room");
    // A name or room from the address that will not do says why; an empty form just waits.
    const wrong = [nameInput, roomInput].find((field) => field.validity.customError);
    if (wrong) wrong.reportValidity();
    else (nameInput.value ? roomInput : nameInput).focus();
  }

  // Says what is wrong with each field; true when both are fine.
  function check(newName, newRoom) {
    nameInput.setCustomValidity(newName ? nameProblem(newName) : "");
    roomInput.setCustomValidity(newRoom ? roomProblem(newRoom) : "");
    return Boolean(newName && newRoom) && joinForm.checkValidity();
  }

  joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const newName = nameInput.value.trim();
    const newRoom = roomInput.value.trim();
    if (check(newName, newRoom)) enter(newName, newRoom);
    else joinForm.reportValidity();
  });
  for (const field of [nameInput, roomInput]) field.addEventListener("input", () => field.setCustomValidity(""));

  leave.addEventListener("click", () => {
    const current = socket;
    socket = null;
    current?.close(1000, "left the room");
    backoff.cancel();
    sessionStorage.removeItem("name");
    nameInput.value = name;
    roomInput.value = room;
    ask();
  });

  sayForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || socket === null || socket.readyState !== WebSocket.OPEN) return;
    // Shown when the server sends it back, in the order everyone sees.
    socket.send(JSON.stringify({ text }));
    input.value = "";
    input.focus();
  });

  // ?room=…&name=… goes straight in; so does a reload of a tab that already chose a name.
  const params = new URLSearchParams(location.search);
  const askedRoom = (params.get("room") ?? "").trim();
  const askedName = (params.get("name") ?? sessionStorage.getItem("name") ?? "").trim();
  nameInput.value = askedName || localStorage.getItem("name") || "";
  if (askedRoom) roomInput.value = askedRoom;
  if (check(askedName, askedRoom)) enter(askedName, askedRoom);
  else ask();
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

startRooms();
startTicker();

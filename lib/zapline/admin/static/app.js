// Zapline dashboard: vanilla JS, no build. Everything shown goes through textContent (never innerHTML).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  let S = null; // the session: {org_id, role, key_prefix, csrf_token, expires_at}
  let current = null; // the open conversation's id
  let ws = null, wsTries = 0, cmdId = 0, convTimer = 0, liveTimer = 0, todayTimer = 0, cleanTimer = 0;
  let letters = []; // the dead letters listed

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "data") Object.assign(e.dataset, v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined && kid !== "") e.append(kid);
    return e;
  }
  const owner = () => S && S.role === "owner";
  const when = (ms) => (ms ? new Date(ms).toLocaleString() : "");
  const notice = (text) => { $("notice").textContent = text || ""; };
  const find = (list, id) => [...$(list).children].find((li) => li.dataset.id === id);

  async function api(method, path, body, headers) {
    const h = Object.assign({ Accept: "application/json" }, headers || {});
    if (method !== "GET") h["X-CSRF-Token"] = S ? S.csrf_token : "";
    if (body !== undefined) h["Content-Type"] = "application/json";
    const r = await fetch(path, { method, headers: h, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (r.status === 401) { showLogin(data.error || "Session ended: log in again."); throw new Error("unauthorized"); }
    if (!r.ok) throw new Error(data.error || r.statusText);
    return data;
  }
  const shown = (e) => { if (e.message !== "unauthorized") notice(e.message); };
  // act: what the user does (its notice replaces the last one); load: a (re)load, which may run at any
  // time (a live event refreshes a list) and so leaves the user's last notice alone, but says its error
  const act = (fn) => async (ev) => {
    if (ev && ev.preventDefault) ev.preventDefault();
    try { notice(""); await fn(ev); } catch (e) { shown(e); }
  };
  const load = (fn) => async () => { try { await fn(); } catch (e) { shown(e); } };

  // --- login ----------------------------------------------------------------------------------
  function showLogin(message) {
    S = null; current = null;
    if (ws) ws.close();
    $("app").hidden = true; $("login").hidden = false;
    $("login-error").textContent = message || "";
  }
  $("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = $("key").value.trim();
    $("key").value = ""; // the key is not kept in the page
    const r = await fetch("/admin/login", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ api_key: key }) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { $("login-error").textContent = data.error || "login failed"; return; }
    start(data);
  });
  $("logout").addEventListener("click", act(async () => {
    await api("POST", "/admin/logout");
    showLogin("Logged out.");
  }));

  function start(session) {
    S = session;
    $("login").hidden = true; $("app").hidden = false;
    $("who").textContent = `${S.org_id} · ${S.role} · ${S.key_prefix}`;
    const ops = [el("h2", {}, "Today"), el("div", { id: "today" })];
    if (owner()) ops.push(el("h2", {}, "Lanes"), el("ul", { id: "lanes" }), el("h2", {}, "Schedules"), el("ul", { id: "schedules" }));
    ops.push(el("h2", {}, "Dead letters"));
    if (owner()) ops.push(el("div", { id: "dl-actions", class: "bar" },
      el("button", { type: "button", id: "retry-all", onclick: act(retryAll) }, "Retry all"),
      el("button", { type: "button", id: "clean", onclick: act(clean) }, "Clean older than 7 days")));
    $("ops").replaceChildren(...ops, el("ul", { id: "dead-letters" }));
    loadConversations(); loadDeadLetters(); loadToday(); if (owner()) { loadLanes(); loadSchedules(); }
    connectLive();
  }

  // --- inbox and messages ---------------------------------------------------------------------
  const loadConversations = load(async () => {
    const page = await api("GET", "/api/v1/conversations?limit=100");
    $("conversations").replaceChildren(...page.items.map((c) => el("li",
      { data: { id: c.id, status: c.status }, class: c.id === current ? "current" : "" },
      el("button", { type: "button", onclick: () => openConversation(c.id) },
        el("strong", {}, c.title || c.chat_jid),
        el("span", { class: "preview" }, c.preview || ""),
        el("span", { class: "meta" }, `${c.status} · ${when(c.last_message_at)}`),
        c.unread ? el("span", { class: "unread" }, String(c.unread)) : null))));
    if (!page.items.length) $("conversations").append(el("li", { class: "meta" }, "No conversations yet."));
  });
  function refreshConversations() { clearTimeout(convTimer); convTimer = setTimeout(loadConversations, 150); }

  // What the AI read in a lead's file: a voice note's transcript, an image's extraction (a boleto's
  // check: valid, or flagged with its problems), a PDF's summary. Text only, never markup.
  function aiReading(ai) {
    const out = [];
    if (ai.transcript) out.push(el("div", { class: "media transcript" }, `Transcript: ${ai.transcript}`));
    const seen = ai.analysis || ai.document;
    if (seen) {
      const check = seen.boleto_check;
      const verdict = check ? (check.valid ? " · boleto checked" : ` · boleto flagged: ${(check.problems || []).join("; ")}`) : "";
      const summary = seen.summary || seen.reason || "";
      out.push(el("div", { class: "media reading", data: { boleto: check ? String(check.valid) : "" } },
        `AI read: ${seen.document_type || "document"}${summary ? " — " + summary : ""}${verdict}`));
    }
    return out;
  }
  function messageItem(m) {
    const media = m.media || null;
    const parts = [];
    if (media) {
      const url = typeof media.url === "string" && /^https?:\/\//.test(media.url) ? media.url : null;
      parts.push(el("span", { class: "media" }, `[${m.kind}${media.file_name ? ": " + media.file_name : ""}] `,
        url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "open") : null));
    }
    parts.push(...aiReading(m.ai || {}));
    const text = m.deleted ? "(deleted)" : m.text || (media ? "" : `[${m.kind}]`);
    const who = m.direction === "in" ? m.sender_name || "" : m.author === "ai" ? "AI" : "";
    return el("li", { class: "msg", data: { id: m.id, status: m.status, direction: m.direction, author: m.author || "" } },
      who ? el("span", { class: "meta" }, who + " ") : null, el("span", { class: "text" }, text), ...parts,
      m.reactions ? el("span", { class: "meta" }, " " + Object.values(m.reactions).join(" ")) : null,
      el("span", { class: "status" }, `${m.status}${m.edited_at ? " · edited" : ""}${m.error ? " · " + m.error : ""}`));
  }
  function upsertMessage(m) {
    if (!m || m.conversation_id !== current) return;
    const old = find("messages", m.id), item = messageItem(m);
    if (old) old.replaceWith(item); else $("messages").append(item);
    item.scrollIntoView({ block: "nearest" });
  }
  function setStatus(id, status) {
    const li = find("messages", id);
    if (!li) return;
    li.dataset.status = status;
    li.querySelector(".status").textContent = status;
  }
  const openConversation = act(async (id) => {
    current = id;
    for (const li of $("conversations").children) li.classList.toggle("current", li.dataset.id === id);
    const [conv, page, ai] = await Promise.all([api("GET", `/api/v1/conversations/${id}`),
      api("GET", `/api/v1/conversations/${id}/messages?limit=200`), api("GET", "/api/v1/ai")]);
    if (current !== id) return;
    $("conv-title").textContent = `${conv.title || conv.chat_jid} (${conv.status})`;
    $("messages").replaceChildren(...page.items.map(messageItem));
    $("reply").hidden = false; $("close").hidden = conv.status !== "open";
    $("resume-ai").hidden = !(ai.enabled && conv.ai_paused);
    const last = $("messages").lastElementChild;
    if (last) last.scrollIntoView({ block: "nearest" });
  });
  function newKey() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  }
  $("reply").addEventListener("submit", act(async () => {
    const text = $("reply-text").value.trim();
    if (!text || !current) return;
    const answer = await api("POST", `/api/v1/conversations/${current}/messages`, { text },
      { "Idempotency-Key": newKey() });
    $("reply-text").value = "";
    upsertMessage(answer.message);
    refreshConversations();
    if (owner()) loadLanes(); // its backlog
  }));
  $("resume-ai").addEventListener("click", act(async () => {
    await api("POST", `/api/v1/conversations/${current}/ai/resume`);
    $("resume-ai").hidden = true;
  }));
  $("close").addEventListener("click", act(async () => {
    const answer = await api("POST", `/api/v1/conversations/${current}/close`);
    $("close").hidden = true;
    $("conv-title").textContent = `${answer.conversation.title || answer.conversation.chat_jid} (${answer.conversation.status})`;
    refreshConversations();
  }));

  // --- operations: dead letters (everyone reads; owners retry and delete), lanes (owners) --------
  const picked = () => [...$("dead-letters").querySelectorAll("input.pick:checked")].map((i) => i.value);
  function pickedChanged() {
    const n = picked().length;
    if ($("retry-all")) $("retry-all").textContent = n ? `Retry selected (${n})` : "Retry all";
  }
  const loadDeadLetters = load(async () => {
    const answer = await api("GET", "/api/v1/dead-letters?limit=50");
    const list = $("dead-letters"), was = new Set(picked());
    letters = answer.items;
    list.replaceChildren(...answer.items.map((d) => el("li", { data: { id: d.id, job: d.job } },
      owner() && d.retryable ? el("input", { type: "checkbox", class: "pick", value: d.id,
        "aria-label": `select ${d.job} dead letter`, onchange: pickedChanged }) : null,
      el("span", {}, `${d.job}: ${d.reason}${d.http_status ? " (" + d.http_status + ")" : ""}`),
      owner() && d.retryable ? el("button", { type: "button", class: "retry",
        onclick: act(async () => { await api("POST", `/api/v1/dead-letters/${encodeURIComponent(d.id)}/retry`); loadDeadLetters(); }) }, "Retry") : null,
      owner() ? el("button", { type: "button", class: "delete",
        onclick: act(async () => { await api("DELETE", `/api/v1/dead-letters/${encodeURIComponent(d.id)}`); loadDeadLetters(); }) }, "Delete") : null)));
    if (!answer.items.length) list.append(el("li", { class: "meta" }, "None."));
    for (const box of list.querySelectorAll("input.pick")) box.checked = was.has(box.value);
    pickedChanged();
  });
  // Retry all: the ticked ones (100 per call), or else every kind listed ({"job": kind}, up to 100 each)
  async function retryAll() {
    const ids = picked(), bodies = [];
    for (let i = 0; i < ids.length; i += 100) bodies.push({ dlq_ids: ids.slice(i, i + 100) });
    if (!ids.length) for (const job of new Set(letters.filter((d) => d.retryable).map((d) => d.job))) bodies.push({ job });
    if (!bodies.length) { notice("Nothing to retry."); return; }
    let done = 0, failed = 0;
    try {
      for (const body of bodies) {
        const r = await api("POST", "/api/v1/dead-letters/retry", body);
        done += r.retried || 0; failed += r.failed || 0;
      }
    } finally { loadDeadLetters(); }
    notice(`Retried ${done}${failed ? `; ${failed} failed` : ""}.`);
  }
  async function clean() { // a second click within 5 s confirms
    const b = $("clean");
    if (!b.dataset.armed) {
      b.dataset.armed = "1"; b.textContent = "Confirm: clean older than 7 days";
      clearTimeout(cleanTimer);
      cleanTimer = setTimeout(() => { delete b.dataset.armed; b.textContent = "Clean older than 7 days"; }, 5000);
      return;
    }
    clearTimeout(cleanTimer); delete b.dataset.armed; b.textContent = "Clean older than 7 days";
    const r = await api("POST", "/api/v1/dead-letters/clean", { older_than_days: 7 });
    loadDeadLetters();
    notice(`Cleaned ${r.deleted || 0} dead letter(s) older than 7 days.`);
  }
  // Schedules (owners): an organisation's own are paused, resumed and run here; deployment ones are read-only
  const loadSchedules = load(async () => {
    const answer = await api("GET", "/api/v1/schedules");
    $("schedules").replaceChildren(...answer.schedules.map((s) => {
      const mine = s.scope === "organisation", verb = s.paused ? "resume" : "pause";
      const go = (v) => act(async () => {
        await api("POST", `/api/v1/schedules/${encodeURIComponent(s.name)}/${v}`);
        loadSchedules();
        if (v === "run") notice(`${s.name}: run now requested.`);
      });
      const next = s.next_run ? `next ${String(s.next_run).replace("T", " ").slice(0, 16)} ${s.timezone || ""}` : "";
      return el("li", { data: { id: s.name, scope: s.scope, paused: String(!!s.paused) } },
        el("span", {}, `${s.name}: ${s.paused ? "paused" : next}`),
        mine ? el("button", { type: "button", class: verb, onclick: go(verb) }, verb === "pause" ? "Pause" : "Resume")
          : el("span", { class: "meta readonly" }, "platform admin"),
        mine ? el("button", { type: "button", class: "run", onclick: go("run") }, "Run now") : null);
    }));
    if (!answer.schedules.length) $("schedules").append(el("li", { class: "meta" }, "None."));
  });

  // --- today: messages per local hour (inline SVG), or only the day's totals without `hourly` --------
  const NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    e.append(...kids);
    return e;
  }
  function chart(name, raw) {
    const counts = raw.map((n) => Math.max(0, Math.floor(Number(n)) || 0));
    const max = Math.max(1, ...counts), total = counts.reduce((a, b) => a + b, 0);
    const bars = counts.map((n, h) => {
      const height = n ? Math.max(2, Math.round((50 * n) / max)) : 1;
      return svg("rect", { x: h * 10 + 1, y: 52 - height, width: 8, height, class: n ? "bar" : "bar zero",
        "data-hour": h, "data-count": n }, svg("title", {}, `${String(h).padStart(2, "0")}:00 · ${n} ${name}`));
    });
    const ticks = [0, 6, 12, 18].map((h) => svg("text", { x: h * 10 + 1, y: 62 }, `${h}h`));
    return el("figure", { class: "chart", id: `today-${name}`, data: { total: String(total) } },
      el("figcaption", {}, `${name} per hour · ${total}`),
      svg("svg", { viewBox: "0 0 240 64", role: "img", "aria-label": `${name} messages per hour` }, ...bars, ...ticks));
  }
  const loadToday = load(async () => {
    const s = await api("GET", "/api/v1/stats/daily");
    const c = s.counters || {}, h = s.hourly, inbound = c.inbound || 0, outbound = c.outbound || 0;
    const hourly = h && [h.inbound, h.outbound].every((a) => Array.isArray(a) && a.length === 24);
    const nps = typeof s.nps === "number" ? ` · NPS ${s.nps}` : "";
    $("today").replaceChildren(
      el("p", { id: "today-totals", class: "meta", data: { inbound: String(inbound), outbound: String(outbound) } },
        `${s.day} · in ${inbound} · out ${outbound}${nps}`),
      ...(hourly ? [chart("inbound", h.inbound), chart("outbound", h.outbound)] : []));
  });
  function refreshToday() { clearTimeout(todayTimer); todayTimer = setTimeout(loadToday, 800); }
  const loadLanes = load(async () => {
    const answer = await api("GET", "/api/v1/lanes");
    $("lanes").replaceChildren(...answer.lanes.map((l) => {
      const verb = l.state === "running" ? "pause" : "resume";
      return el("li", { data: { id: l.lane, state: l.state } },
        el("span", {}, `${l.lane}: ${l.state} · backlog ${l.backlog ?? "?"}`),
        el("button", { type: "button", class: verb, onclick: act(async () => {
          await api("POST", `/api/v1/lanes/${encodeURIComponent(l.lane)}/${verb}`); loadLanes();
        }) }, verb === "pause" ? "Pause" : "Resume"));
    }));
  });

  // --- live updates: Centrifugo's WebSocket JSON protocol ------------------------------------------
  function setLive(state) { $("live").dataset.state = state; $("live").textContent = state; }
  function onEvent(d) {
    if (!d || !d.type) return;
    if (d.type === "message.created" || d.type === "message.updated") {
      upsertMessage(d.message); refreshConversations();
      if (d.type === "message.created") refreshToday();
    }
    else if (d.type === "message.status") {
      for (const m of d.messages || []) if (m.conversation_id === current) setStatus(m.id || m.message_id, d.status);
    } else if (d.type === "conversation.updated") {
      refreshConversations();
      if (d.conversation && d.conversation.id === current) openConversation(current);
    } else if (d.type === "job.failed") loadDeadLetters();
    else if (d.type === "instance.status") notice(`instance ${d.instance_id}: ${d.status}${d.reason ? " (" + d.reason + ")" : ""}`);
  }
  function retryLive() {
    clearTimeout(liveTimer);
    if (S) liveTimer = setTimeout(connectLive, Math.min(30000, 500 * 2 ** wsTries++));
  }
  async function connectLive() {
    if (ws || !S) return;
    let t;
    try { t = await api("POST", "/api/v1/realtime/token"); } catch (e) { retryLive(); return; }
    if (!t.url) { setLive("no live updates"); return; }
    const sock = (ws = new WebSocket(t.url));
    sock.onopen = () => sock.send(JSON.stringify({ id: ++cmdId, connect: { token: t.token, name: "zapline-dashboard" } }));
    sock.onmessage = (ev) => {
      for (const line of String(ev.data).split("\n")) {
        if (!line.trim()) continue;
        let m;
        try { m = JSON.parse(line); } catch (e) { continue; }
        if (!Object.keys(m).length) { sock.send("{}"); continue; } // ping → pong
        if (m.error) { sock.close(); continue; }
        if (m.connect) {
          wsTries = 0; setLive("live");
          if (m.connect.expires && m.connect.ttl) setTimeout(() => sock.close(), Math.max(5, m.connect.ttl - 30) * 1000);
          loadConversations(); loadToday(); if (current) openConversation(current); // catch up on what happened offline
        } else if (m.push && m.push.pub) onEvent(m.push.pub.data);
      }
    };
    sock.onclose = () => { if (ws === sock) ws = null; setLive("offline"); retryLive(); };
  }

  fetch("/admin/session", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json().then(start) : showLogin("")))
    .catch(() => showLogin(""));
})();

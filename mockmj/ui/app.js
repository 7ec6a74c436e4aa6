// The mockmj dashboard: plain JavaScript over the control API (/_mockmj/*), polling once a second.
// No framework and nothing from the network; every value from the mock is inserted as text, never as HTML.
"use strict";

const POLL_MS = 1000;
const PAGE = 100;
const TOKEN_HEADER = "X-MockMJ-Control-Token";
const state = { view: "tasks", taskId: null, limit: PAGE, filters: { key: "", status: "", action: "", q: "" },
                journal: { show: "all", method: "", q: "" }, cards: new Map(), busy: false, clock: null,
                needsToken: false, rules: 0 };

// Emoji that Debian's Chromium draws as an empty box without an emoji font: buttons show a word instead
// (the emoji stays in the tooltip).
const EMOJI_LABELS = { "🔄": "Reroll", "🔍": "Zoom", "🖌️": "Vary (Region)", "⬅️": "Pan left", "➡️": "Pan right",
                       "⬆️": "Pan up", "⬇️": "Pan down", "❤️": "Like", "🪄": "Upscale" };

// ------------------------------------------------------------------------------------------ helpers
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// replaceChildren, skipping absent parts (the DOM would write them as the text "null")
function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

// ?token=T is taken once, kept for this tab, and dropped from the address bar (and so from its history)
function takeTokenFromUrl() {
  const params = new URLSearchParams(location.search);
  if (!params.has("token")) return;
  sessionStorage.setItem("mockmj-token", params.get("token"));
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
}

function token() { return sessionStorage.getItem("mockmj-token") || ""; }

async function api(method, path, body) {
  const headers = {};
  const t = token();
  if (t) headers[TOKEN_HEADER] = t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch("/_mockmj" + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text }; }
  if (response.status === 401 || response.status === 403) {
    state.needsToken = true;
    document.getElementById("token-bar").hidden = false;
  }
  if (!response.ok) throw new Error((data && data.error) || `${method} ${path}: HTTP ${response.status}`);
  state.needsToken = false;
  document.getElementById("token-bar").hidden = true;
  return data;
}

function clockText(ms) {
  if (ms === null || ms === undefined) return "";
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "").slice(0, 23);
}

function buttonLabel(b) {
  if (b.label) return b.label;
  if (EMOJI_LABELS[b.emoji]) return EMOJI_LABELS[b.emoji];
  const kind = String(b.customId || "").split("::")[2];  // MJ::JOB::<kind>::...
  return kind ? kind.replace(/_/g, " ") : "·";
}

function chip(b) { return h("span", { class: "chip", title: `${b.emoji || ""} ${b.customId || ""}`.trim() }, buttonLabel(b)); }

function badge(status) { return h("span", { class: `badge s-${status}`, "data-testid": "status" }, status); }

function percent(progress) {
  const n = parseInt(String(progress || "0").replace("%", ""), 10);
  return Number.isFinite(n) ? Math.max(0, Math.min(100, n)) : 0;
}

function mediaOf(task) {
  const props = task.properties || {};
  const video = task.videoUrl || props.videoUrl || (Array.isArray(task.videoUrls) && task.videoUrls[0] && task.videoUrls[0].url);
  if (video) return { kind: "video", url: video };
  if (task.imageUrl) return { kind: "image", url: task.imageUrl };
  return null;
}

function mediaElement(task, full) {
  const media = mediaOf(task);
  const cls = full ? "full" : null;
  if (!media) return h("span", { class: "placeholder" }, task.status === "FAILURE" ? "failed" : task.action);
  if (media.kind === "video") return h("video", { src: media.url, class: cls, muted: true, loop: true, autoplay: true, playsinline: true });
  return h("img", { src: media.url, alt: task.prompt || task.action, loading: "lazy", class: cls, "data-testid": full ? "task-image" : "thumb" });
}

function setStatusLine(text, isError) {
  const line = document.getElementById("status-line");
  line.textContent = text;
  line.className = isError ? "error" : "";
}

// ------------------------------------------------------------------------------------------ header
async function refreshHeader() {
  const health = await api("GET", "/health");
  document.getElementById("health").textContent =
    `${health.dialect} dialect · v${health.version} · ${health.tasks} task${health.tasks === 1 ? "" : "s"} · auth: ${health.auth || "?"}`;
  const clock = await api("GET", "/clock");
  state.clock = clock;
  document.getElementById("clock-now").textContent = clockText(clock.now) + (clock.virtual ? " (virtual)" : "");
  const timing = document.getElementById("timing");
  if (document.activeElement !== timing) timing.value = clock.timing;
  document.getElementById("advance").hidden = !clock.virtual;
  state.rules = health.rules || 0;
  const banner = document.getElementById("rules-banner");
  banner.hidden = !state.rules;
  document.getElementById("rules-count").textContent =
    `${state.rules} control rule${state.rules === 1 ? " is" : "s are"} active: requests they match are answered by them, not by the simulation.`;
}

// ------------------------------------------------------------------------------------------ tasks
function taskCard(row) {
  const t = row.task;
  const card = h("a", { class: "card", href: `#task/${t.id}`, "data-testid": "task-card", "data-task-id": t.id });
  card.append(h("div", { class: "thumb" }), h("div", { class: "body" }));
  updateCard(card, row);
  return card;
}

function updateCard(card, row) {
  const t = row.task;
  const signature = JSON.stringify([t.status, t.progress, t.imageUrl, mediaOf(t), row.stalled]);
  if (card.dataset.signature === signature) return;
  card.dataset.signature = signature;
  card.dataset.status = t.status;
  if (row.stalled) card.dataset.stalled = "true"; else delete card.dataset.stalled;
  card.querySelector(".thumb").replaceChildren(mediaElement(t, false));
  fill(card.querySelector(".body"),
    h("div", { class: "row" }, h("span", { class: "mono" }, t.id), badge(t.status)),
    h("div", { class: "row" }, h("b", {}, t.action), h("span", { class: "key", title: "key" }, row.key),
      h("span", { class: "mono" }, t.progress || "")),
    h("div", { class: "bar", title: t.progress || "" }, h("span", { style: `width:${percent(t.progress)}%` })),
    h("div", { class: "prompt", title: t.prompt || "" }, t.prompt || t.description || ""),
    t.failReason ? h("div", { class: "prompt error", title: t.failReason }, t.failReason) : null,
    row.stalled ? h("div", { class: "stalled", title: row.stalled, "data-testid": "stalled" }, "stalled: ", row.stalled) : null,
    h("div", { class: "chips" }, (t.buttons || []).slice(0, 12).map(chip)),
  );
}

function fillSelect(select, values, counts) {
  const current = select.value;
  const wanted = ["", ...values];
  const labels = wanted.map((v) => (v === "" ? "any" : counts ? `${v} (${counts[v] || 0})` : v));
  const same = select.options.length === wanted.length && labels.every((l, i) => select.options[i].text === l);
  if (same) return;
  select.replaceChildren(...wanted.map((v, i) => h("option", { value: v }, labels[i])));
  select.value = wanted.includes(current) ? current : "";
}

function showTasks(view) {
  view.replaceChildren(document.getElementById("tasks-view").content.cloneNode(true));
  state.cards = new Map();
  for (const name of Object.keys(state.filters)) {
    const input = view.querySelector(`[name=${name}]`);
    input.value = state.filters[name];
    input.addEventListener(name === "q" ? "input" : "change", () => {
      state.filters[name] = input.value;
      state.limit = PAGE;
      refresh();
    });
  }
  view.querySelector(".more").addEventListener("click", () => { state.limit += PAGE; refresh(); });
}

async function refreshTasks(view) {
  const query = new URLSearchParams({ limit: state.limit });
  for (const [name, value] of Object.entries(state.filters)) if (value) query.set(name, value);
  const page = await api("GET", `/tasks?${query}`);
  fillSelect(view.querySelector("[name=key]"), page.keys, null);
  fillSelect(view.querySelector("[name=status]"),
    ["NOT_START", "SUBMITTED", "MODAL", "IN_PROGRESS", "SUCCESS", "FAILURE", "CANCEL"], page.counts);
  const grid = view.querySelector(".grid");
  for (const hint of grid.querySelectorAll(".empty")) hint.remove();
  const seen = new Set();
  let previous = null;
  for (const row of page.items) {
    const id = row.task.id;
    seen.add(id);
    let card = state.cards.get(id);
    if (card) updateCard(card, row);
    else { card = taskCard(row); state.cards.set(id, card); }
    const expected = previous ? previous.nextSibling : grid.firstChild;
    if (expected !== card) grid.insertBefore(card, expected);
    previous = card;
  }
  for (const [id, card] of state.cards) if (!seen.has(id)) { card.remove(); state.cards.delete(id); }
  view.querySelector(".count").textContent = `${page.items.length} shown of ${page.total}`
    + (page.complete ? "" : ` (the latest ${page.scanned.toLocaleString("en")} of ${page.stored.toLocaleString("en")} tasks looked at)`);
  view.querySelector(".more").hidden = page.items.length >= page.total;
  if (!page.items.length) grid.replaceChildren(h("p", { class: "empty" }, "No tasks yet: submit one to /mj/submit/imagine."));
}

// ------------------------------------------------------------------------------------------ one task
function tree(nodes) {
  if (!nodes.length) return h("p", { class: "empty" }, "No action was pressed on this task.");
  return h("ul", { class: "tree", "data-testid": "children" }, nodes.map((n) => h("li", {},
    h("a", { href: `#task/${n.id}`, class: "mono" }, n.id), " ", h("b", {}, n.action), " ", badge(n.status), " ",
    n.description || "", n.children.length ? tree(n.children) : null)));
}

async function refreshTask(view) {
  const id = state.taskId;
  const [row, timeline] = await Promise.all([api("GET", `/tasks/${encodeURIComponent(id)}`),
    api("GET", `/tasks/${encodeURIComponent(id)}/timeline`)]);
  const t = row.task;
  const signature = JSON.stringify([t, timeline.events.length, row.children, row.stalled]);
  if (view.dataset.signature === signature) return;
  view.dataset.signature = signature;
  const start = t.submitTime || 0;
  const facts = [["id", t.id], ["action", t.action], ["status", t.status], ["progress", t.progress], ["key", row.key],
    ["prompt", t.prompt], ["description", t.description], ["failReason", t.failReason],
    ["submitted", clockText(t.submitTime)], ["started", clockText(t.startTime)], ["finished", clockText(t.finishTime)],
    ["imageUrl", t.imageUrl]];
  fill(view, h("div", { class: "task-page", "data-testid": "task-page", "data-status": t.status },
    h("div", {},
      h("div", { class: "panel" }, mediaElement(t, true), h("div", { class: "bar" }, h("span", { style: `width:${percent(t.progress)}%` }))),
      h("div", { class: "panel" }, h("h3", {}, "Raw JSON (as fetch returns it)"), h("pre", { class: "json", "data-testid": "raw-json" }, JSON.stringify(t, null, 2)))),
    h("div", {},
      h("div", { class: "panel" }, h("h3", {}, "Task ", badge(t.status)),
        h("dl", { class: "facts" }, facts.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
        row.parentId ? h("p", {}, "Made by a button of ", h("a", { href: `#task/${row.parentId}`, class: "mono" }, row.parentId)) : null,
        row.stalled ? h("p", { class: "stalled", "data-testid": "stalled" }, "Stalled: ", row.stalled) : null,
        h("p", {}, h("a", { href: `#journal?task=${encodeURIComponent(t.id)}` }, "Requests about this task")),
        h("div", { class: "chips" }, (t.buttons || []).map(chip))),
      h("div", { class: "panel" }, h("h3", {}, "Children (actions pressed on it)"), tree(row.children)),
      h("div", { class: "panel" }, h("h3", {}, "Timeline"),
        h("table", { "data-testid": "timeline" }, h("tr", {}, h("th", {}, "+ms"), h("th", {}, "event"), h("th", {}, "state"), h("th", {}, "detail")),
          timeline.events.map((e) => h("tr", {}, h("td", { class: "mono" }, e.time - start), h("td", {}, e.kind),
            h("td", {}, e.status ? `${e.status} ${e.progress || ""}` : ""),
            h("td", { class: "mono" }, e.detail ? `#${e.detail.attempt} → ${e.detail.url} ${e.detail.httpStatus ?? ""} ${e.detail.error || ""}` : ""))))))));
}

// ------------------------------------------------------------------------------------------ tables
function table(testid, columns, rows, eachRow) {
  if (!rows.length) return h("p", { class: "empty" }, "Nothing yet.");
  return h("table", { "data-testid": testid }, h("tr", {}, columns.map(([label]) => h("th", {}, label))),
    rows.map((r) => {
      const tr = h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(r))));
      if (eachRow) eachRow(tr, r);
      return tr;
    }));
}

// a submission that made nothing, as the journal marks it (an error status or no result: codes 21, 24, 25…)
const JOURNAL_SHOW = { all: () => true, calls: (e) => e.operationId !== "getAttachment", refused: (e) => e.refused, rules: (e) => !!e.rule, errors: (e) => e.status >= 400,
                       billable: (e) => e.billable };

function journalParams() {
  const query = location.hash.split("?")[1] || "";
  return new URLSearchParams(query);
}

function journalFilters(view) {
  const f = state.journal;
  const select = (name, options) => {
    const el = h("select", { name, "data-testid": `journal-${name}` }, options.map(([v, l]) => h("option", { value: v }, l)));
    el.value = f[name];
    el.addEventListener("change", () => { f[name] = el.value; delete view.dataset.signature; refresh(); });
    return el;
  };
  const search = h("input", { name: "q", type: "search", placeholder: "path, key, task or body", "data-testid": "journal-q" });
  search.value = f.q;
  search.addEventListener("input", () => { f.q = search.value; delete view.dataset.signature; refresh(); });
  return h("div", { class: "filters" },
    h("label", {}, "show ", select("show", [["all", "every request"], ["calls", "no image downloads"], ["refused", "refused submissions"], ["rules", "rule hits"],
      ["errors", "HTTP errors (4xx/5xx)"], ["billable", "submissions"]])),
    h("label", {}, "method ", select("method", [["", "any"], ["GET", "GET"], ["POST", "POST"], ["DELETE", "DELETE"]])),
    h("label", {}, "search ", search),
    h("button", { "data-testid": "clear-journal", onclick: () => clearJournal() }, "Clear the journal"),
    h("span", { class: "count", "data-testid": "journal-count" }));
}

function entryMarks(e) {
  return [e.refused ? h("span", { class: "badge s-FAILURE", "data-testid": "mark-refused" }, "refused") : null,
    e.rule ? h("span", { class: "badge s-MODAL", "data-testid": "mark-rule", title: JSON.stringify(e.rule.respond) }, `rule ${e.rule.id}`) : null];
}

function headerTable(headers) {
  const names = Object.keys(headers || {});
  if (!names.length) return h("p", { class: "empty" }, "none kept");
  return h("dl", { class: "facts headers" }, names.map((n) => [h("dt", {}, n), h("dd", { class: "mono" }, headers[n])]));
}

function prettyBody(text) {
  if (!text) return "(empty)";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
}

function entryDetail(e) {
  if (!e) return h("div", { class: "panel detail", "data-testid": "entry-detail-empty" },
    h("p", { class: "empty" }, "Click a request to see what was sent and answered, the rule that matched and its task."));
  return h("div", { class: "panel detail", "data-testid": "entry-detail", "data-seq": e.seq },
    h("h3", {}, `#${e.seq} `, h("span", { class: "mono" }, `${e.method} ${e.path}`), " ", entryMarks(e)),
    h("dl", { class: "facts" },
      h("dt", {}, "time"), h("dd", {}, clockText(e.time)),
      h("dt", {}, "operation"), h("dd", {}, e.operationId || "(none: no such route)"),
      h("dt", {}, "key"), h("dd", { class: "mono" }, e.key ?? "(none)"),
      h("dt", {}, "task"), h("dd", {}, e.taskId ? h("a", { href: `#task/${encodeURIComponent(e.taskId)}`, class: "mono", "data-testid": "entry-task" }, e.taskId) : "none"),
      h("dt", {}, "took"), h("dd", {}, e.latencyMs !== undefined ? `${e.latencyMs} ms` : "")),
    h("h4", {}, "Request"), headerTable(e.requestHeaders),
    h("pre", { class: "json", "data-testid": "entry-request-body" }, prettyBody(e.body)),
    h("h4", {}, "Response ", h("span", { "data-testid": "entry-status" }, `HTTP ${e.status}`), e.code !== null && e.code !== undefined ? ` · code ${e.code}` : ""),
    headerTable(e.responseHeaders),
    h("pre", { class: "json", "data-testid": "entry-response-body" }, prettyBody(e.responseBody)),
    h("h4", {}, "Rule"),
    e.rule ? h("div", { "data-testid": "entry-rule" },
      h("p", {}, "Answered by control rule ", h("a", { href: "#rules", class: "mono" }, e.rule.id), ":"),
      h("pre", { class: "json" }, JSON.stringify({ match: e.rule.match, respond: e.rule.respond }, null, 2)))
      : h("p", { class: "empty", "data-testid": "entry-rule" }, "No rule matched: the simulation answered."));
}

function showJournal(view) {
  const params = journalParams();
  if (params.get("task")) state.journal.q = params.get("task");
  if (params.get("show")) state.journal.show = params.get("show");
  view.replaceChildren(journalFilters(view), h("div", { class: "journal-page" }, h("div", { class: "journal-list" }), h("div", { class: "journal-detail" })));
}

async function refreshJournal(view) {
  const page = await api("GET", "/requests?limit=300");
  const f = state.journal;
  const signature = JSON.stringify([page.total, page.items.length && page.items[page.items.length - 1].seq, f, state.selected]);
  if (view.dataset.signature === signature) return;
  view.dataset.signature = signature;
  const text = f.q.toLowerCase();
  const items = page.items.slice().reverse().filter((e) => JOURNAL_SHOW[f.show](e) && (!f.method || e.method === f.method)
    && (!text || [e.path, e.key, e.taskId, e.body, e.operationId].some((v) => v && String(v).toLowerCase().includes(text))));
  view.querySelector("[data-testid=journal-count]").textContent =
    `${items.length} shown · ${page.total} requests since the last reset (keeping ${page.capacity}); newest first`;
  const selected = page.items.find((e) => e.seq === state.selected);
  fill(view.querySelector(".journal-list"), table("journal", [["#", (e) => e.seq], ["time", (e) => clockText(e.time).slice(11)],
    ["request", (e) => [h("span", { class: "mono path", title: `${e.method} ${e.path}` }, `${e.method} ${e.path}`),
      e.refused || e.rule ? h("div", { class: "marks" }, entryMarks(e)) : null]], ["status", (e) => e.status], ["code", (e) => e.code ?? ""],
    ["key", (e) => h("span", { class: "mono" }, e.key ?? "")],
    ["task", (e) => (e.taskId ? h("a", { href: `#task/${encodeURIComponent(e.taskId)}`, class: "mono" }, e.taskId) : "")]], items, (tr, e) => {
    tr.dataset.seq = e.seq;
    tr.setAttribute("data-testid", "journal-row");
    tr.classList.add("clickable");
    if (e.seq === state.selected) tr.classList.add("selected");
    tr.addEventListener("click", (event) => {
      if (event.target.closest("a")) return;  // a task link goes to the task
      state.selected = e.seq;
      refresh();
    });
  }));
  fill(view.querySelector(".journal-detail"), entryDetail(selected));
}

async function clearJournal() {
  try { await api("DELETE", "/requests"); state.selected = null; } catch (e) { setStatusLine(e.message, true); }
  delete document.getElementById("view").dataset.signature;
  refresh();
}

// ------------------------------------------------------------------------------------------ findings
async function refreshFindings(view) {
  const page = await api("GET", "/findings");
  const signature = JSON.stringify(page.items);
  if (view.dataset.signature === signature) return;
  view.dataset.signature = signature;
  const t = page.thresholds;
  fill(view, h("p", { class: "count" },
    `What clients do that a real server would punish or that wastes their time, per key. Fast polling is over ${t.pollsPerSecond}/s `
    + `(over ${t.pollWindowSeconds} s); a task is abandoned when not polled for ${t.abandonedAfterSeconds} s before it finished.`),
  page.items.length ? table("findings", [["key", (x) => h("span", { class: "mono" }, x.key)], ["finding", (x) => h("b", {}, x.kind)],
    ["about", (x) => (x.taskId ? h("a", { href: `#task/${encodeURIComponent(x.taskId)}`, class: "mono" }, x.subject) : h("span", { class: "mono" }, x.subject))],
    ["seen", (x) => x.count], ["last", (x) => clockText(x.lastSeen).slice(11)],
    ["evidence", (x) => h("span", { class: "mono" }, JSON.stringify(x.evidence))], ["advice", (x) => x.advice]], page.items)
    : h("p", { class: "empty", "data-testid": "findings-empty" }, "No findings: the clients seen so far behave."));
}

async function refreshOutbox(view) {
  const page = await api("GET", "/callbacks?limit=300");
  const signature = `${page.total}:${page.items.length}`;
  if (view.dataset.signature === signature) return;
  view.dataset.signature = signature;
  fill(view, h("p", { class: "count" }, `${page.total} callback attempts (keeping ${page.capacity}); newest first`),
    table("outbox", [["#", (e) => e.seq], ["due", (e) => clockText(e.time)],
      ["task", (e) => h("a", { href: `#task/${e.taskId}`, class: "mono" }, e.taskId)], ["url", (e) => h("span", { class: "mono" }, e.url)],
      ["state", (e) => `${e.status} ${e.progress || ""}`], ["attempt", (e) => e.attempt], ["HTTP", (e) => e.httpStatus ?? ""],
      ["error", (e) => e.error || ""], ["ms", (e) => e.latencyMs ?? ""], ["fault", (e) => e.fault || ""]],
    page.items.slice().reverse()));
}

function ruleForm(view) {
  const field = (name, label, attrs) => h("label", {}, label, h("input", { name, "data-testid": `rule-${name}`, ...(attrs || {}) }));
  const error = h("span", { class: "error", "data-testid": "rule-error" });
  const form = h("form", { class: "rule panel", "data-testid": "rule-form" },
    h("h3", { style: "grid-column: 1 / -1" }, "Add a rule"),
    h("label", {}, "operation", h("select", { name: "operation", "data-testid": "rule-operation" },
      ["", "submitImagine", "submitAction", "submitBlend", "submitDescribe", "submitShorten", "submitModal",
        "fetchTask", "listTasksByCondition", "cancelTask"].map((o) => h("option", { value: o }, o || "any")))),
    field("action", "button kind (upscale, variation…)"), field("key", "key"), field("prompt", "prompt contains"),
    field("code", "answer with code", { type: "number" }), field("httpStatus", "or HTTP status", { type: "number", min: 200, max: 599 }),
    field("description", "description"), field("outcome", "outcome (fail, banned, ...)"),
    field("latencyMs", "latency ms", { type: "number", min: 0 }), field("times", "times (empty: until deleted)", { type: "number", min: 1 }),
    h("div", {}, h("button", { type: "submit", "data-testid": "rule-add" }, "Add rule"), " ", error));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (name) => form.elements[name].value.trim();
    const match = {};
    for (const name of ["operation", "action", "key", "prompt"]) if (value(name)) match[name] = value(name);
    const respond = {};
    for (const name of ["code", "httpStatus", "latencyMs"]) if (value(name)) respond[name] = Number(value(name));
    for (const name of ["description", "outcome"]) if (value(name)) respond[name] = value(name);
    const body = { match, respond };
    if (value("times")) body.times = Number(value("times"));
    try {
      await api("POST", "/rules", body);
      error.textContent = "";
      form.reset();
      delete view.dataset.signature;
      refresh();
    } catch (e) { error.textContent = e.message; }
  });
  return form;
}

async function refreshRules(view) {
  const rules = await api("GET", "/rules");
  const signature = JSON.stringify(rules);
  if (view.dataset.signature === signature) return;
  view.dataset.signature = signature;
  let form = view.querySelector("form.rule");
  if (!form) form = ruleForm(view);
  const list = table("rules", [["id", (r) => h("span", { class: "mono" }, r.id)], ["match", (r) => h("span", { class: "mono" }, JSON.stringify(r.match))],
    ["respond", (r) => h("span", { class: "mono" }, JSON.stringify(r.respond))], ["times", (r) => r.times ?? "∞"],
    ["remaining", (r) => r.remaining ?? "∞"], ["fired", (r) => r.fired],
    ["", (r) => h("button", { "data-testid": "rule-delete", onclick: async () => { await api("DELETE", `/rules/${r.id}`); refresh(); } }, "Delete")]], rules);
  fill(view, form, h("div", { class: "panel" }, h("h3", {}, `Active rules (${rules.length}) `,
    rules.length ? h("button", { "data-testid": "clear-rules-here", onclick: () => clearRules() }, "Delete every rule") : null,
    " ", h("a", { href: "#journal?show=rules" }, "requests they answered")), list));
}

function balanceForm() {
  // The control plane may list keys masked ("sk-d…"): a balance is set by the full key, typed here.
  const error = h("span", { class: "error", "data-testid": "balance-error" });
  const form = h("form", { class: "rule", "data-testid": "balance-form" },
    h("label", {}, "key (in full)", h("input", { name: "key", required: true, "data-testid": "balance-key" })),
    h("label", {}, "new balance", h("input", { name: "balance", type: "number", required: true, "data-testid": "balance-value" })),
    h("div", {}, h("button", { type: "submit", "data-testid": "balance-set" }, "Set balance"), " ", error));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("PATCH", `/keys/${encodeURIComponent(form.elements.key.value.trim())}`, { balance: Number(form.elements.balance.value) });
      error.textContent = "";
      form.reset();
      refresh();
    } catch (e) { error.textContent = e.message; }
  });
  return form;
}

async function refreshKeys(view) {
  const [keys, accounts] = await Promise.all([api("GET", "/keys"), api("GET", "/accounts")]);
  const signature = JSON.stringify([keys, accounts]);
  if (view.dataset.signature === signature) return;
  view.dataset.signature = signature;
  const toggle = (a, name) => h("input", { type: "checkbox", checked: a[name], "data-testid": `account-${name}`,
    onchange: async (e) => { await api("PATCH", `/accounts/${a.instanceId}`, { [name]: e.target.checked }); refresh(); } });
  const form = view.querySelector("form[data-testid=balance-form]") || balanceForm();
  fill(view,
    h("div", { class: "panel" }, h("h3", {}, `Keys (${keys.length})`),
      table("keys", [["key", (k) => h("span", { class: "mono" }, k.key)], ["balance", (k) => k.balance],
        ["rate limit /s", (k) => k.rateLimit ?? "none"],
        ["allowed operations", (k) => (k.allowedOperations || ["all"]).join(", ")]], keys), form),
    h("div", { class: "panel" }, h("h3", {}, `Accounts (${accounts.length})`),
      table("accounts", [["instanceId", (a) => h("span", { class: "mono" }, a.instanceId)], ["enabled", (a) => toggle(a, "enabled")],
        ["remix", (a) => toggle(a, "remix")], ["modes", (a) => a.modes.join(", ")], ["running / core", (a) => `${a.running} / ${a.coreSize}`],
        ["waiting / queue", (a) => `${a.waiting} / ${a.queueSize}`], ["remark", (a) => a.remark || ""]], accounts)));
}

// ------------------------------------------------------------------------------------------ routing
const VIEWS = { tasks: refreshTasks, task: refreshTask, journal: refreshJournal, outbox: refreshOutbox, rules: refreshRules,
                keys: refreshKeys, findings: refreshFindings };

async function clearRules() {
  try { await api("DELETE", "/rules"); } catch (e) { setStatusLine(e.message, true); }
  delete document.getElementById("view").dataset.signature;
  refresh();
}

// Reset everything takes two clicks: the first one asks, the second (within a few seconds) resets.
async function resetEverything(button) {
  if (button.dataset.armed !== "true") {
    button.dataset.armed = "true";
    button.textContent = "Click again: delete every task, rule and request";
    setTimeout(() => { button.dataset.armed = "false"; button.textContent = "Reset everything"; }, 5000);
    return;
  }
  button.dataset.armed = "false";
  button.textContent = "Reset everything";
  try { await api("POST", "/reset", {}); state.selected = null; } catch (e) { setStatusLine(e.message, true); }
  route();
}

function route() {
  const [name, id] = (location.hash.replace(/^#/, "").split("?")[0] || "tasks").split("/");
  state.view = VIEWS[name] ? name : "tasks";
  state.taskId = id ? decodeURIComponent(id) : null;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.view === state.view);
  const view = document.getElementById("view");
  delete view.dataset.signature;
  view.replaceChildren();
  view.dataset.view = state.view;
  if (state.view === "tasks") showTasks(view);
  if (state.view === "journal") showJournal(view);
  refresh();
}

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    await refreshHeader();
    await VIEWS[state.view](document.getElementById("view"));
    setStatusLine(`updated ${new Date().toLocaleTimeString()}`, false);
  } catch (e) {
    setStatusLine(e.message, true);
  } finally {
    state.busy = false;
  }
}

function start() {
  takeTokenFromUrl();
  document.getElementById("timing").addEventListener("change", async (e) => {
    try { await api("PUT", "/timing", { timing: e.target.value }); } catch (err) { setStatusLine(err.message, true); }
    refresh();
  });
  for (const button of document.querySelectorAll("#advance button")) {
    button.addEventListener("click", async () => {
      try { await api("POST", "/clock/advance", { seconds: Number(button.dataset.seconds) }); } catch (err) { setStatusLine(err.message, true); }
      refresh();
    });
  }
  document.getElementById("token-save").addEventListener("click", () => {
    sessionStorage.setItem("mockmj-token", document.getElementById("token-input").value);
    refresh();
  });
  document.getElementById("clear-rules").addEventListener("click", clearRules);
  document.getElementById("banner-clear-rules").addEventListener("click", clearRules);
  document.getElementById("clear-journal-nav").addEventListener("click", clearJournal);
  document.getElementById("reset-all").addEventListener("click", (e) => resetEverything(e.currentTarget));
  window.addEventListener("hashchange", route);
  route();
  setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
}

start();

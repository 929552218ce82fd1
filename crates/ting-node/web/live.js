// Live updates for the dashboard's pages, pushed by the node over
// server-sent events (no polling): the overview's figures and newest blocks
// from /v1/overview/events, and a watched account's new transactions from
// /v1/events?account=ID&skip_empty=true. The page works without it; this
// only keeps it current.

const fmt = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "—");
const utc = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

function setStatus(el, state, text) {
  if (!el) return;
  el.dataset.state = state;
  el.textContent = text;
}

// The overview: every figure named by a data-stat cell, and the block list.
function followOverview() {
  const figures = document.getElementById("overview");
  if (!figures) return;
  const status = document.getElementById("live-status");
  const source = new EventSource("/v1/overview/events");
  source.addEventListener("open", () => setStatus(status, "live", "live"));
  source.addEventListener("error", () => setStatus(status, "reconnecting", "reconnecting…"));
  source.addEventListener("overview", (e) => {
    const v = JSON.parse(e.data);
    for (const dd of figures.querySelectorAll("dd[data-stat]")) {
      if (dd.dataset.stat in v) dd.textContent = fmt(v[dd.dataset.stat]);
    }
    figures.dataset.height = String(v.height);
    if (Array.isArray(v.recent_blocks)) showBlocks(v.recent_blocks);
    setStatus(status, "live", "live");
  });
}

function cell(tr, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  tr.append(td);
}

function link(href, text, title) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  if (title) a.title = title;
  return a;
}

const short = (id) => (id.length > 14 ? id.slice(0, 14) + "…" : id);

function showBlocks(blocks) {
  const table = document.querySelector('table[data-list="recent_blocks"]');
  if (!table) return; // The server rendered "no block yet": reload shows the table.
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const b of blocks) {
    const tr = document.createElement("tr");
    cell(tr, link(`/blocks/${b.height}`, fmt(b.height)));
    cell(tr, utc(b.timestamp_ms));
    cell(tr, fmt(b.tx_count));
    const hash = document.createElement("span");
    hash.className = "id";
    hash.title = b.hash;
    hash.textContent = short(b.hash);
    cell(tr, hash);
    body.append(tr);
  }
  table.dataset.rows = String(blocks.length);
}

// A watched account: each receipt that touches it is added to the top of its
// history, and its balance is read again.
function watchAccount() {
  const button = document.getElementById("watch");
  if (!button) return;
  const account = button.dataset.account;
  const status = document.getElementById("watch-status");
  let source = null;
  const start = () => {
    source = new EventSource(`/v1/events?account=${encodeURIComponent(account)}&skip_empty=true`);
    source.addEventListener("open", () => setStatus(status, "live", "watching: new transactions appear as they commit"));
    source.addEventListener("error", () => setStatus(status, "reconnecting", "reconnecting…"));
    source.addEventListener("receipt", (e) => {
      addReceipt(JSON.parse(e.data), account);
      refreshBalance(account);
    });
    button.textContent = "Stop watching";
  };
  const stop = () => {
    source.close();
    source = null;
    setStatus(status, "stopped", "not watching");
    button.textContent = "Watch";
  };
  button.addEventListener("click", () => (source ? stop() : start()));
  start();
}

function addReceipt(r, account) {
  const table = document.querySelector('table[data-list="history"]');
  if (!table) return;
  const tr = document.createElement("tr");
  tr.dataset.live = "true";
  tr.dataset.tx = r.tx_hash;
  cell(tr, link(`/blocks/${r.height}`, fmt(r.height)));
  cell(tr, String(r.index));
  cell(tr, "");
  cell(tr, link(`/tx/${r.tx_hash}`, short(r.tx_hash), r.tx_hash));
  cell(tr, r.kind);
  cell(tr, r.sender === account ? "sender" : r.counterparty === account ? "counterparty" : "channel_party");
  const other = r.sender === account ? r.counterparty : r.sender;
  cell(tr, other ? link(`/accounts/${other}`, short(other.replace("did:key:", "")), other) : "—");
  cell(tr, "");
  cell(tr, "");
  table.tBodies[0].prepend(tr);
  table.dataset.rows = String(table.tBodies[0].rows.length);
}

async function refreshBalance(account) {
  const answer = await fetch(`/v1/accounts/${encodeURIComponent(account)}`);
  if (!answer.ok) return;
  const a = await answer.json();
  for (const key of ["balance", "nonce"]) {
    const dd = document.querySelector(`#account dd[data-field="${key}"]`);
    if (dd) dd.textContent = fmt(a[key]);
  }
  const height = document.querySelector('#account dd[data-field="height"]');
  if (height) height.replaceChildren(link(`/blocks/${a.height}`, fmt(a.height)));
}

followOverview();
watchAccount();

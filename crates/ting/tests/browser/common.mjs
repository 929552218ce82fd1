// What the browser test's pages share: the run's settings from the
// environment, the node's JSON API (reads, the faucet, the overview's
// figures), and checks every page makes (CSV lists, no console error, the
// in-page receipt and state checks). See dashboard.mjs.

import * as h from "./harness.mjs";
import { check, expect, expectEq } from "./harness.mjs";

// The switch for the overview's figures: until `GET /v1/overview` lands, they
// are compared with /v1/status and /v1/supply where those overlap (and the
// device and channel counts with what the workload made). Set it to true
// when the endpoint is in: then a missing endpoint or figure fails.
export const OVERVIEW_ENDPOINT_LANDED = true;

/** Figures over a trailing time window: they fall as time passes with no new block. */
export const WINDOWED = new Set(["tps", "blocks_per_min", "volume_1m"]);

export function env(name, fallback) {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") {
    console.error(`dashboard.mjs: set ${name} (see the comment at the top of dashboard.mjs)`);
    process.exit(2);
  }
  return v;
}

export const BASE = env("TING_URL").replace(/\/$/, "");
export const SHOTS = env("TING_SCREENSHOTS");
export const CHROMIUM = env("TING_CHROMIUM", "/usr/bin/chromium");
export const SEED = Number(env("TING_SEED", String(Date.now() % 4294967296)));
export const ACCOUNT = env("TING_ACCOUNT");
export const DEVICE = env("TING_DEVICE");
export const OTHER = env("TING_OTHER");
export const TX = env("TING_TX");
export const TX_BATCH = env("TING_TX_BATCH");
export const BLOCK = Number(env("TING_BLOCK"));
export const EXPECT = {
  devices: Number(env("TING_EXPECT_DEVICES")),
  open_channels: Number(env("TING_EXPECT_OPEN_CHANNELS")),
};
export const HANDSHAKE = process.env.TING_HANDSHAKE === "stdio";
export const random = h.rng(SEED);

// ---------------------------------------------------------------- the API

export async function api(path, { method = "GET", body } = {}) {
  const r = await fetch(BASE + path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: the caller sees `text`.
  }
  return { status: r.status, json, text };
}

export async function get(path) {
  const r = await api(path);
  expect(r.status === 200, `GET ${path} answered ${r.status}: ${r.text.slice(0, 300)}`);
  return r.json;
}

/**
 * Waits until the index has caught up with the durable log (histories
 * complete) and the overview, which the node publishes once a second, shows
 * the same height.
 */
export async function caughtUp() {
  const status = await h.until("the node's index to catch up", async () => {
    const s = await get("/v1/status");
    return s.indexed_height >= s.height && s.durable_height >= s.height ? s : undefined;
  });
  await h.until("the overview to show the durable height", async () => {
    const o = await api("/v1/overview");
    return o.status !== 200 || o.json.height >= status.durable_height ? true : undefined;
  });
  return status;
}

/** Mints `amount` to `to` from the dev faucet; answers once committed and indexed. */
export async function faucet(to, amount) {
  const r = await api("/v1/faucet", { method: "POST", body: { to, amount } });
  expect(r.status === 200 && r.json.status === "committed", `POST /v1/faucet: ${r.status} ${r.text}`);
  await caughtUp();
  return r.json;
}

/** The overview's figures from the API (see OVERVIEW_ENDPOINT_LANDED). */
export async function overviewApi() {
  const r = await api("/v1/overview");
  if (r.status === 200) return { source: "/v1/overview", v: r.json };
  expect(!OVERVIEW_ENDPOINT_LANDED, `GET /v1/overview answered ${r.status}: ${r.text.slice(0, 200)}`);
  const status = await get("/v1/status");
  const supply = await get("/v1/supply");
  const blocks = await get("/v1/blocks?limit=10");
  return {
    source: "/v1/status and /v1/supply (no /v1/overview yet)",
    v: {
      height: status.height,
      durable_height: status.durable_height,
      accounts: status.accounts,
      supply: status.supply,
      escrow: supply.locked,
      devices: EXPECT.devices,
      open_channels: EXPECT.open_channels,
      recent_blocks: blocks.blocks
        .slice()
        .reverse()
        .map(({ height, hash, timestamp_ms, tx_count }) => ({ height, hash, timestamp_ms, tx_count })),
    },
  };
}

/** A path with its long id cut short, for labels. */
export const short = (path) => path.replace(/([0-9a-f]{12}|did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{6})[0-9A-Za-z]{8,}/, "$1…");
export const utc = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);
export const thousands = (n) => n.toLocaleString("en-US");

// ---------------------------------------------------------------- shared checks

/** Every `a[data-csv]` of the page: fetched, parsed strictly, equal to its table. */
export async function csvLists(label, opened) {
  const links = await opened.page.$$eval("a[data-csv]", (as) =>
    as.map((a) => ({ name: a.dataset.csv, href: a.getAttribute("href"), download: a.hasAttribute("download") })),
  );
  await check(label, "has CSV links", async () => expect(links.length > 0, "no a[data-csv] on the page"));
  for (const link of links) {
    await check(label, `CSV ${link.name}`, async () => {
      const answer = await opened.page.context().request.get(new URL(link.href, BASE).href);
      expectEq(answer.status(), 200, `GET ${link.href} status`);
      const type = answer.headers()["content-type"] ?? "";
      expect(type.startsWith("text/csv"), `GET ${link.href}: content-type ${type}`);
      const disposition = answer.headers()["content-disposition"] ?? "";
      expect(disposition.startsWith("attachment"), `GET ${link.href}: content-disposition ${disposition}`);
      const records = h.parseCsv(await answer.text());
      const t = await h.table(opened.page, link.name);
      expectEq(records[0], t.headers, `${link.href}: the CSV header against table[data-list=${link.name}]'s th`);
      expectEq(String(t.rows.length), t.dataRows, `table[data-list=${link.name}] data-rows against its rows`);
      expectEq(records.length - 1, Number(t.dataRows), `${link.href}: CSV records against data-rows`);
      t.rows.forEach((row, i) => {
        row.cells.forEach((cell, j) => {
          const field = records[i + 1][j];
          const same = field === cell || (/^[0-9]+$/.test(field) && cell.replace(/,/g, "") === field);
          const where = `${link.href}: row ${i + 1} column ${JSON.stringify(t.headers[j])}`;
          expect(same, `${where}: CSV ${JSON.stringify(field)}, page ${JSON.stringify(cell)}`);
        });
      });
    });
  }
}

export async function noProblems(label, opened, when = "") {
  await check(label, `no console error or failed request${when}`, async () =>
    expect(opened.problems.length === 0, opened.problems.join("\n    ")),
  );
}

/** Waits for a `section[data-result]` check to finish; answers its result and steps. */
export async function checkedResult(opened, selector) {
  const result = await h.settle(opened, `${selector} to finish checking`, () =>
    opened.page.$eval(selector, (s) => (["valid", "invalid", "error"].includes(s.dataset.result) ? s.dataset.result : null)),
  );
  const steps = await opened.page.$$eval(`${selector} li[data-step]`, (lis) =>
    lis.map((li) => ({ step: li.dataset.step, ok: li.dataset.ok, text: li.textContent.trim() })),
  );
  return { result, steps };
}

export async function expectValid(opened, selector) {
  const { result, steps } = await checkedResult(opened, selector);
  expectEq(result, "valid", `${selector} data-result (steps: ${JSON.stringify(steps)})`);
  expect(steps.length > 0, `${selector} lists no li[data-step]`);
  const bad = steps.filter((s) => s.ok !== "true");
  expect(bad.length === 0, `${selector}: steps not ok: ${JSON.stringify(bad)}`);
}

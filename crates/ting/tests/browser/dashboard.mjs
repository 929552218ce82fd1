// The dashboard end to end in a real headless Chromium (Debian's, through
// playwright-core): every page loaded against a node with a workload,
// checked against the JSON API, screenshots in $TING_SCREENSHOTS/NAME.png.
//
// crates/ting/tests/dashboard.rs starts the node, makes the workload and runs
// this script; to run it by hand against a node you started and fed yourself:
//
//   TING_URL=http://127.0.0.1:8080 TING_SCREENSHOTS=/tmp/shots TING_ACCOUNT=did:key:… \
//   TING_DEVICE=did:key:… TING_OTHER=did:key:… TING_TX=<hash> TING_TX_BATCH=<hash> \
//   TING_BLOCK=<height> TING_EXPECT_DEVICES=1 TING_EXPECT_OPEN_CHANNELS=1 \
//   node crates/ting/tests/browser/dashboard.mjs
//
// Phase 1 loads every page while the test's workload runs: each answers 200
// with no console error or failed request, the overview goes live and its
// height rises, the in-page receipt and state checks finish, account pages
// start watching. Then the script asks the test to pause the workload (a
// `@@pause-workload` line on stdout, answered by `paused` on stdin when
// TING_HANDSHAKE=stdio); from there on only this script adds transactions
// (faucet mints), so every figure it compares is stable. Phase 2:
//
// - /: the figures (dd[data-stat]) equal GET /v1/overview (see the switch
//   OVERVIEW_ENDPOINT_LANDED in common.mjs), read without scripts, windowed
//   figures between two API reads; the newest blocks equal the API; the site
//   has an icon; live: after a mint the height figure, the block list and
//   every figure follow, without a reload.
// - /blocks, /blocks/{h}: rows and header equal /v1/blocks and /v1/blocks/{h}
//   (heights, counts, whole hashes and accounts from the cells' titles).
// - /tx/{hash}: fields equal /v1/transactions/{hash}; the receipt checks valid
//   in the page (section#receipt-check, every li[data-step] ok).
// - /accounts/{id}, an account and a device: summary equals /v1/accounts/{id},
//   history equals /v1/accounts/{id}/transactions; the state proof checks
//   valid; watching, a mint to it appears as tr[data-live][data-tx] and the
//   balance follows.
// - /market, /streams: each list's data-rows equals the API's list.
// - /verify: a real receipt pasted checks valid; one with a proof sibling's
//   byte flipped, and one with the header's signature flipped, check invalid
//   with a li[data-ok=false].
// - /api: a section.endpoint for every operation of /v1/openapi.json, once.
// - Every a[data-csv] of every page: its CSV parses as strict RFC 4180, its
//   header equals the table's th, its records the table's data-rows and cells.
// - Bad input: /accounts/not-an-account (400) and /blocks/999999999 (404)
//   show the API's code and message; /search and the search box lead to a
//   block, a transaction and an account.
//
// Every wait is on a condition with a deadline; random choices (amounts, the
// byte flipped) come from TING_SEED, printed first.

import { mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";
import * as h from "./harness.mjs";
import { check, expect, expectEq, figure } from "./harness.mjs";
import {
  ACCOUNT,
  BASE,
  BLOCK,
  CHROMIUM,
  DEVICE,
  HANDSHAKE,
  SEED,
  SHOTS,
  TX,
  TX_BATCH,
  caughtUp,
  checkedResult,
  noProblems,
  short,
} from "./common.mjs";
import * as pages from "./pages.mjs";

/** The whole run's limit, far above its usual few tens of seconds. */
const RUN_MS_MAX = 170_000;

// ---------------------------------------------------------------- phase one: under load

/** Each page loads without an error while the workload runs; the overview moves. */
async function underLoad(ctx) {
  const paths = [
    ["/", "overview"],
    ["/blocks", "blocks"],
    [`/blocks/${BLOCK}`, "block"],
    [`/tx/${TX}`, "tx"],
    [`/accounts/${ACCOUNT}`, "account"],
    [`/accounts/${DEVICE}`, "device"],
    ["/market", "market"],
    ["/streams", "streams"],
    ["/verify", "verify"],
    ["/api", "api"],
  ];
  for (const [path, name] of paths) {
    const label = `${short(path)} (under load)`;
    const o = await h.open(ctx, BASE, path);
    await check(label, "answers 200 with a title", async () => {
      expectEq(o.response.status(), 200, "status");
      expect((await h.text(o.page, "main h1")).length > 0, "an empty h1");
    });
    // What the page's scripts do on their own, waited for, so their errors show.
    if (name === "overview") {
      await check(label, "goes live and its height rises", async () => {
        await h.settle(o, "#live-status[data-state=live]", () => o.page.$("#live-status[data-state=live]"));
        const first = figure(await h.text(o.page, "dd[data-stat=height]"));
        await h.settle(o, `the height figure to rise above ${first}`, async () => {
          return h.figureOrNull(await h.text(o.page, "dd[data-stat=height]")) > first;
        });
      });
      await h.screenshot(o.page, SHOTS, "overview-under-load");
    }
    if (name === "tx") {
      await check(label, "its receipt check finishes", async () => checkedResult(o, "section#receipt-check"));
    }
    if (name === "account" || name === "device") {
      await check(label, "its state check finishes", async () => checkedResult(o, "section#state-check"));
      await check(label, "it watches the account", async () =>
        h.settle(o, "#watch-status[data-state=live]", () => o.page.$("#watch-status[data-state=live]")),
      );
    }
    await noProblems(label, o);
    await o.close();
  }
}

async function pauseWorkload() {
  if (!HANDSHAKE) {
    console.log("dashboard.mjs: no TING_HANDSHAKE=stdio: not pausing a workload (none is assumed to run)");
    return;
  }
  console.log("@@pause-workload");
  const lines = createInterface({ input: process.stdin });
  const answer = await Promise.race([
    new Promise((resolve) => lines.once("line", resolve)),
    new Promise((resolve) => setTimeout(() => resolve("(no answer within 60 s)"), 60_000).unref()),
  ]);
  lines.close();
  expectEq(answer, "paused", "the test's answer to @@pause-workload");
  await caughtUp();
}

// ---------------------------------------------------------------- the run

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  console.log(`dashboard.mjs: node ${BASE}, seed ${SEED} (TING_SEED replays it), screenshots in ${SHOTS}`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  console.log(`dashboard.mjs: Chromium ${browser.version()} from ${CHROMIUM}`);
  try {
    const options = { viewport: { width: 1280, height: 900 }, locale: "en-US", timezoneId: "UTC" };
    const ctx = await browser.newContext(options);
    const noJs = await browser.newContext({ ...options, javaScriptEnabled: false });
    console.log("phase 1: every page while the workload runs");
    await underLoad(ctx);
    await pauseWorkload();
    console.log("phase 2: every page against the API, the workload paused");
    await pages.overview(ctx, noJs);
    await pages.blocks(ctx);
    await pages.block(ctx);
    await pages.tx(ctx, TX, "tx");
    await pages.tx(ctx, TX_BATCH, "tx-in-batch");
    await pages.account(ctx, ACCOUNT, "account", { watch: true });
    await pages.account(ctx, DEVICE, "device", { watch: false });
    await pages.lists(ctx, "/market", "market", [
      ["offers", "/v1/offers?limit=100", "offers"],
      ["holds", "/v1/holds?limit=100", "holds"],
      ["classes", "/v1/classes?limit=20", "classes"],
      ["orders", "/v1/orders?limit=100", "orders"],
      ["leases", "/v1/leases?limit=100", "leases"],
    ]);
    await pages.lists(ctx, "/streams", "streams", [["streams", "/v1/streams?limit=100", "streams"]]);
    await pages.verify(ctx);
    await pages.apiPage(ctx);
    await pages.badInput(ctx);
  } finally {
    await browser.close();
  }
  const failed = h.summary();
  console.log(`dashboard.mjs: screenshots in ${SHOTS}`);
  return failed;
}

setTimeout(() => {
  console.log(`dashboard.mjs: the run passed its ${RUN_MS_MAX / 1000} s limit`);
  h.summary();
  process.exit(1);
}, RUN_MS_MAX).unref();

main().then(
  (failed) => process.exit(failed === 0 ? 0 : 1),
  (e) => {
    console.log(`dashboard.mjs: stopped by an error outside any check: ${e.stack ?? e}`);
    h.summary();
    process.exit(1);
  },
);

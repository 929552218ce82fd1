// The browser test's phase 2: each page checked exactly against the JSON
// API while the workload is paused. See dashboard.mjs.

import * as h from "./harness.mjs";
import { check, expect, expectEq, figure } from "./harness.mjs";
import {
  ACCOUNT,
  BASE,
  BLOCK,
  EXPECT,
  OTHER,
  OVERVIEW_ENDPOINT_LANDED,
  SHOTS,
  TX,
  TX_BATCH,
  WINDOWED,
  api,
  checkedResult,
  csvLists,
  expectValid,
  faucet,
  get,
  noProblems,
  overviewApi,
  random,
  short,
  thousands,
  utc,
} from "./common.mjs";

export async function overview(ctx, noJs) {
  const label = "/";
  // Without scripts: the figures exactly as the server wrote them.
  const before = await overviewApi();
  const still = await h.open(noJs, BASE, "/");
  const shown = await still.page.$$eval("dl#overview dd[data-stat]", (dds) =>
    Object.fromEntries(dds.map((d) => [d.dataset.stat, d.textContent.trim()])),
  );
  const after = await overviewApi();
  console.log(`  overview figures compared with ${after.source}`);
  await check(label, "figures equal the API", async () => {
    for (const key of ["devices", "accounts", "height", "open_channels", "escrow", "supply"]) {
      expect(key in shown, `no dl#overview dd[data-stat=${key}]`);
    }
    const unchecked = [];
    for (const [key, text] of Object.entries(shown)) {
      const value = figure(text);
      const [a, b] = [before.v[key], after.v[key]];
      if (a === undefined || b === undefined) {
        expect(!OVERVIEW_ENDPOINT_LANDED, `${key} is on the page but not in /v1/overview`);
        unchecked.push(key);
        continue;
      }
      if (WINDOWED.has(key)) {
        // Read between the two API answers while nothing commits: within them.
        expect(value !== null && value >= Math.min(a, b) && value <= Math.max(a, b), `${key}: the page shows ${text}, the API ${a} then ${b}`);
        continue;
      }
      expectEq(b, a, `${key} in two API reads (is the workload paused?)`);
      expectEq(value, a, `dd[data-stat=${key}]`);
    }
    if (unchecked.length > 0) console.log(`  not compared until /v1/overview lands: ${unchecked.join(", ")}`);
    expectEq(figure(shown.devices), EXPECT.devices, "devices, as the workload registered them");
    expectEq(figure(shown.open_channels), EXPECT.open_channels, "open channels, as the workload opened them");
    expect(figure(shown.escrow) > 0, "escrow is 0 with a channel open");
  });
  await check(label, "newest blocks equal the API", async () => {
    const t = await h.table(still.page, "recent_blocks");
    const blocks = after.v.recent_blocks;
    expectEq(t.rows.length, blocks.length, "rows of table[data-list=recent_blocks]");
    blocks.forEach((b, i) => {
      const [height, time, txs, hash] = t.rows[i].cells;
      expectEq([figure(height), time, figure(txs), hash], [b.height, utc(b.timestamp_ms), b.tx_count, b.hash], `recent_blocks row ${i + 1}`);
    });
  });
  await check(label, "the site has an icon (no 404 for the icon a browser asks for)", async () => {
    const declared = await still.page.$eval("link[rel~=icon]", (l) => l.href).catch(() => null);
    const icon = declared ?? `${BASE}/favicon.ico`;
    const answer = icon.startsWith("data:") ? 200 : (await api(icon.slice(BASE.length))).status;
    expectEq(answer, 200, `GET ${icon.slice(0, 80)} (no link[rel=icon] on the page: the browser asks for /favicon.ico)`);
  });
  await csvLists(label, still);
  await noProblems(label, still, " (without scripts)");
  await still.close();

  // With scripts: the figures and the block list follow new blocks.
  const live = await h.open(ctx, BASE, "/");
  await check(label, "live: figures and newest blocks follow a new transaction", async () => {
    await h.settle(live, "#live-status[data-state=live]", () => live.page.$("#live-status[data-state=live]"));
    const minted = await faucet(OTHER, 1 + random.below(1_000));
    await h.settle(live, `dd[data-stat=height] to reach ${minted.height}`, async () =>
      h.figureOrNull(await h.text(live.page, "dd[data-stat=height]")) >= minted.height,
    );
    await h.settle(live, `the newest block row to show height ${minted.height}`, async () => {
      const t = await h.table(live.page, "recent_blocks");
      return t.rows.length > 0 && h.figureOrNull(t.rows[0].cells[0]) >= minted.height;
    });
    const now = (await overviewApi()).v;
    // The feed's figures agree with the API once the block is in.
    await h.settle(live, "every figure to equal the API", async () => {
      const figures = await live.page.$$eval("dl#overview dd[data-stat]", (dds) =>
        dds.map((d) => [d.dataset.stat, d.textContent.trim()]),
      );
      return figures.every(([k, t]) => WINDOWED.has(k) || !(k in now) || h.figureOrNull(t) === now[k]);
    });
    const t = await h.table(live.page, "recent_blocks");
    expectEq(t.dataRows, String(t.rows.length), "data-rows after a live update");
    now.recent_blocks.forEach((b, i) => {
      const [height, time, txs, hash] = t.rows[i].cells;
      expectEq(
        [figure(height), time, figure(txs), hash],
        [b.height, utc(b.timestamp_ms), b.tx_count, b.hash],
        `live recent_blocks row ${i + 1} (hash: the title)`,
      );
    });
  });
  await noProblems(label, live);
  await h.screenshot(live.page, SHOTS, "overview");
  await live.close();
}

export async function blocks(ctx) {
  const label = "/blocks";
  const answer = await get("/v1/blocks?limit=50");
  const o = await h.open(ctx, BASE, "/blocks");
  await check(label, "rows equal /v1/blocks", async () => {
    const t = await h.table(o.page, "blocks");
    const newest = answer.blocks.slice().reverse();
    expectEq(t.rows.length, newest.length, "rows");
    newest.forEach((b, i) => {
      const [height, time, txs, hash, epoch, sequencer] = t.rows[i].cells;
      expectEq(
        [figure(height), time, figure(txs), hash, figure(epoch), sequencer],
        [b.height, utc(b.timestamp_ms), b.tx_count, b.hash, b.epoch, b.sequencer],
        `row ${i + 1}`,
      );
    });
    const intro = await h.text(o.page, "main p");
    const says = `${thousands(answer.durable_height)} durable blocks`;
    expect(intro.includes(says), `"${intro}" does not say "${says}"`);
  });
  await csvLists(label, o);
  await noProblems(label, o);
  await h.screenshot(o.page, SHOTS, "blocks");
  await o.close();
}

export async function block(ctx) {
  const label = `/blocks/${BLOCK}`;
  const b = await get(`/v1/blocks/${BLOCK}`);
  const o = await h.open(ctx, BASE, label);
  const field = (k) => h.text(o.page, `dl#header dd[data-field=${k}]`);
  await check(label, "header equals /v1/blocks/{h}", async () => {
    const hd = b.header;
    expectEq(figure(await field("height")), hd.height, "height");
    expectEq(figure(await field("tx_count")), hd.tx_count, "tx_count");
    expectEq(await field("timestamp_ms"), utc(hd.timestamp_ms), "time");
    for (const k of ["hash", "tx_root", "state_root", "signature"]) expectEq(await field(k), hd[k], k);
    expect((await field("prev_hash")).startsWith(hd.prev_hash), `prev_hash is not ${hd.prev_hash}`);
    const seq = await o.page.$eval("dl#header dd[data-field=sequencer] [title]", (a) => a.title);
    expectEq(seq, hd.sequencer, "sequencer");
    expect(hd.tx_count >= 2, `block ${BLOCK} should hold several transactions, it holds ${hd.tx_count}`);
  });
  await check(label, "transactions equal /v1/blocks/{h}", async () => {
    const t = await h.table(o.page, "transactions");
    expectEq(t.rows.length, b.txs.length, "rows");
    b.txs.forEach((x, i) => {
      const [index, hash, kind, sender, counterparty, amount] = t.rows[i].cells;
      expectEq([index, hash, kind, sender], [String(i), x.tx_hash, x.tx.kind, x.tx.sender], `row ${i + 1}`);
      if (x.tx.kind === "transfer") {
        expectEq([counterparty, figure(amount)], [x.tx.fields.to, x.tx.fields.amount], `row ${i + 1} counterparty, amount`);
      }
    });
  });
  await csvLists(label, o);
  await noProblems(label, o);
  await h.screenshot(o.page, SHOTS, "block");
  await o.close();
}

export async function tx(ctx, hash, name) {
  const label = `${short(`/tx/${hash}`)} (${name})`;
  const v = await get(`/v1/transactions/${hash}`);
  const o = await h.open(ctx, BASE, `/tx/${hash}`);
  const field = (k) => h.text(o.page, `dl#tx dd[data-field=${k}]`);
  await check(label, "fields equal /v1/transactions/{hash}", async () => {
    expectEq(await field("tx_hash"), hash, "tx_hash");
    expectEq(await field("status"), v.receipt.status, "status");
    expectEq(figure(await field("height")), v.receipt.height, "height");
    expectEq(figure(await field("index")), v.receipt.index, "index");
    expectEq(await field("kind"), v.tx.kind, "kind");
    expectEq(figure(await field("nonce")), v.tx.nonce, "nonce");
    const sender = await o.page.$eval("dl#tx dd[data-field=sender] [title]", (a) => a.title);
    expectEq(sender, v.tx.sender, "sender");
  });
  await check(label, "the receipt checks valid in the page", async () => expectValid(o, "section#receipt-check"));
  await noProblems(label, o);
  await h.screenshot(o.page, SHOTS, name);
  await o.close();
}

export async function account(ctx, did, name, { watch }) {
  const label = `${short(`/accounts/${did}`)} (${name})`;
  const a = await get(`/v1/accounts/${did}`);
  const history = await get(`/v1/accounts/${did}/transactions?limit=50`);
  const o = await h.open(ctx, BASE, `/accounts/${did}`);
  const field = (k) => h.text(o.page, `dl#account dd[data-field=${k}]`);
  await check(label, "summary equals /v1/accounts/{id}", async () => {
    expectEq(await field("id"), a.id, "id");
    expectEq(figure(await field("balance")), a.balance, "balance");
    expectEq(figure(await field("nonce")), a.nonce, "nonce");
    expectEq(figure(await field("height")), a.height, "height");
    expectEq(await h.text(o.page, "main h1"), a.device ? "Device" : "Account", "h1");
    if (a.device) {
      const owner = await o.page.$eval("dl#account dd[data-field=owner] [title]", (x) => x.title);
      expectEq(owner, a.device.owner, "owner");
      expectEq(figure(await field("per_day")), a.device.per_day, "per_day");
      expectEq(figure(await field("spent_today")), a.device.spent_today, "spent_today");
      expect(a.device.spent_today > 0, "the workload's device spent nothing today");
    }
  });
  await check(label, "history equals /v1/accounts/{id}/transactions", async () => {
    const t = await h.table(o.page, "history");
    const entries = history.transactions;
    expect(entries.length > 0, "the workload left no history");
    expectEq(t.rows.length, entries.length, "rows");
    entries.forEach((e, i) => {
      const [height, index, time, hash, kind, role, counterparty, amount, flow] = t.rows[i].cells;
      expectEq(
        [figure(height), figure(index), time, hash, kind, role, counterparty, figure(amount), flow],
        [
          e.height,
          e.index,
          e.timestamp_ms ? utc(e.timestamp_ms) : "",
          e.tx_hash,
          e.kind ?? "",
          e.role ?? "",
          e.counterparty ?? "",
          e.amount ?? null,
          e.flow ?? "",
        ],
        `history row ${i + 1}`,
      );
    });
  });
  await check(label, "history entries name kind, role, counterparty, amount and time (API)", async () => {
    const missing = history.transactions.filter((e) => !["kind", "role", "counterparty", "amount", "timestamp_ms"].every((k) => k in e));
    expect(missing.length === 0, `${missing.length} of ${history.transactions.length} entries lack them, e.g. ${JSON.stringify(missing[0])}`);
  });
  await csvLists(label, o);
  await check(label, "the state proof checks valid in the page", async () => expectValid(o, "section#state-check"));
  if (watch) {
    await check(label, "watching: a new transaction appears live and the balance follows", async () => {
      await h.settle(o, "#watch-status[data-state=live]", () => o.page.$("#watch-status[data-state=live]"));
      const amount = 1 + random.below(10_000);
      const minted = await faucet(did, amount);
      const row = `table[data-list=history] tr[data-live=true][data-tx="${minted.tx_hash}"]`;
      await h.settle(o, row, () => o.page.$(row));
      const balance = (await get(`/v1/accounts/${did}`)).balance;
      expectEq(balance, a.balance + amount, "the API's balance after the faucet");
      await h.settle(o, `dd[data-field=balance] to show ${balance}`, async () => h.figureOrNull(await field("balance")) === balance);
      const cells = await o.page.$eval(row, (tr) => [tr.cells[0].textContent.trim(), tr.querySelector("a[href^='/tx/']")?.title]);
      expectEq([figure(cells[0]), cells[1]], [minted.height, minted.tx_hash], "the live row's block and transaction");
    });
  }
  await noProblems(label, o);
  await h.screenshot(o.page, SHOTS, name);
  await o.close();
}

export async function lists(ctx, path, name, apiLists) {
  const o = await h.open(ctx, BASE, path);
  await check(path, "lists equal the API", async () => {
    for (const [list, apiPath, key] of apiLists) {
      const records = (await get(apiPath))[key];
      const t = await h.table(o.page, list);
      expectEq(Number(t.dataRows), records.length, `table[data-list=${list}] data-rows against ${apiPath}`);
    }
  });
  await csvLists(path, o);
  await noProblems(path, o);
  await h.screenshot(o.page, SHOTS, name);
  await o.close();
}

/** Flips one bit of byte `at` of a hex string. */
function flip(hex, at) {
  const i = 2 * at;
  const b = (parseInt(hex.slice(i, i + 2), 16) ^ 0x01).toString(16).padStart(2, "0");
  return hex.slice(0, i) + b + hex.slice(i + 2);
}

export async function verify(ctx) {
  const label = "/verify";
  const receipt = await get(`/v1/receipts/${TX_BATCH}`);
  const siblings = receipt.proof?.siblings ?? [];
  const tampered = [];
  await check(label, "the receipt to tamper with has a proof sibling", async () =>
    expect(siblings.length > 0 && typeof siblings[0] === "string", `proof: ${JSON.stringify(receipt.proof)}`),
  );
  if (siblings.length > 0) {
    const proof = structuredClone(receipt);
    const at = random.below(siblings[0].length / 2);
    proof.proof.siblings[0] = flip(siblings[0], at);
    tampered.push(["a proof sibling", "verify-tampered-proof", proof, `siblings[0] byte ${at}`]);
  }
  // The signature closes the header's bytes: flip it there and in the `signature` field alike.
  const header = receipt.header;
  const closes = typeof header.hex === "string" && header.hex.endsWith(header.signature);
  await check(label, "the receipt's header hex ends with its signature", async () =>
    expect(closes, `header: ${JSON.stringify(header)}`),
  );
  if (closes) {
    const signed = structuredClone(receipt);
    const sigBytes = header.signature.length / 2;
    const at = random.below(sigBytes);
    signed.header.signature = flip(header.signature, at);
    signed.header.hex = header.hex.slice(0, -2 * sigBytes) + signed.header.signature;
    tampered.push(["the header's signature", "verify-tampered-signature", signed, `signature byte ${at}`]);
  }

  const run = async (json, shot) => {
    const o = await h.open(ctx, BASE, "/verify");
    try {
      await o.page.fill("textarea#receipt-input", JSON.stringify(json, null, 2));
      await o.page.click("button#receipt-check-button");
      const out = await checkedResult(o, "section#receipt-check");
      await h.screenshot(o.page, SHOTS, shot);
      return { o, ...out };
    } catch (e) {
      await h.screenshot(o.page, SHOTS, shot);
      await o.close();
      throw e;
    }
  };
  await check(label, "a real receipt pasted checks valid", async () => {
    const { o, result, steps } = await run(receipt, "verify");
    try {
      expectEq(result, "valid", `data-result (steps: ${JSON.stringify(steps)})`);
      expect(steps.length > 0 && steps.every((s) => s.ok === "true"), `steps: ${JSON.stringify(steps)}`);
      await noProblems(label, o);
    } finally {
      await o.close();
    }
  });
  for (const [what, shot, json, where] of tampered) {
    await check(label, `a receipt with ${what} flipped (${where}) checks invalid`, async () => {
      const { o, result, steps } = await run(json, shot);
      try {
        expectEq(result, "invalid", `data-result (steps: ${JSON.stringify(steps)})`);
        expect(steps.some((s) => s.ok === "false"), `no li[data-ok=false]: ${JSON.stringify(steps)}`);
        await noProblems(label, o, ` (${what} flipped)`);
      } finally {
        await o.close();
      }
    });
  }
}

export async function apiPage(ctx) {
  const label = "/api";
  const doc = await get("/v1/openapi.json");
  const o = await h.open(ctx, BASE, "/api");
  await check(label, "every OpenAPI operation has its section", async () => {
    const wanted = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const m of ["get", "post", "put", "delete", "patch"]) if (item[m]) wanted.push(`${m} ${path}`);
    }
    const shown = await o.page.$$eval("section.endpoint", (ss) => ss.map((s) => `${s.dataset.method} ${s.dataset.path}`));
    const missing = wanted.filter((w) => !shown.includes(w));
    const extra = shown.filter((s) => !wanted.includes(s));
    expect(missing.length === 0, `no section.endpoint for: ${missing.join(", ")}`);
    expect(extra.length === 0, `sections for no operation: ${extra.join(", ")}`);
    expectEq(shown.length, wanted.length, "sections (each operation once)");
  });
  await noProblems(label, o);
  await h.screenshot(o.page, SHOTS, "api");
  await o.close();
}

export async function badInput(ctx) {
  for (const [path, apiPath, status, title, shot] of [
    ["/accounts/not-an-account", "/v1/accounts/not-an-account", 400, "Bad request", "error-account"],
    ["/blocks/999999999", "/v1/blocks/999999999", 404, "Not found", "error-block"],
  ]) {
    const answer = await api(apiPath);
    const o = await h.open(ctx, BASE, path, { allow: [BASE + path] });
    await check(path, `an error page: ${status}, the API's code and message`, async () => {
      expectEq(answer.status, status, `GET ${apiPath} status`);
      expectEq(o.response.status(), status, "the page's status");
      expectEq(await h.text(o.page, "main h1"), title, "h1");
      const shown = await o.page.$eval("p.error[data-code]", (p) => [p.dataset.code, p.textContent.trim()]);
      expectEq(shown, [answer.json.error.code, answer.json.error.message], "p.error code and message");
    });
    await noProblems(path, o);
    await h.screenshot(o.page, SHOTS, shot);
    await o.close();
  }
  for (const [q, target] of [
    [String(BLOCK), `/blocks/${BLOCK}`],
    [TX, `/tx/${TX}`],
    [ACCOUNT, `/accounts/${ACCOUNT}`],
  ]) {
    const label = short(`/search?q=${q}`);
    const o = await h.open(ctx, BASE, `/search?q=${encodeURIComponent(q)}`);
    await check(label, `redirects to ${target.slice(0, 24)}`, async () => {
      expectEq(o.response.status(), 200, "status after the redirect");
      expectEq(decodeURIComponent(new URL(o.page.url()).pathname), target, "where search led");
    });
    await noProblems(label, o);
    await o.close();
  }
  // As a person does it: typed into the header's search box.
  const o = await h.open(ctx, BASE, "/");
  await check("search box", `a height typed in leads to block ${BLOCK}`, async () => {
    await o.page.fill("form.search input[name=q]", String(BLOCK));
    await Promise.all([o.page.waitForURL(`${BASE}/blocks/${BLOCK}`, { timeout: h.DEADLINE_MS }), o.page.click("form.search button")]);
    expectEq(await h.text(o.page, "main h1"), `Block ${BLOCK}`, "h1");
  });
  await o.close();
}

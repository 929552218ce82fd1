// The browser test's harness: checks that record instead of throwing (so one
// run reports every broken page, not only the first), pages opened with every
// console error and failed request collected, waits on conditions with a
// deadline (never a fixed sleep), a strict RFC 4180 parser, tables read as
// the page shows them, and a seeded random source.
//
// Used by dashboard.mjs; see crates/ting/tests/dashboard.rs for how it runs.

/** The longest any wait on a condition may take before its check fails. */
export const DEADLINE_MS = 30_000;
const STARTED_MS = Date.now();

// ---------------------------------------------------------------- checks

const results = [];

/** A failed expectation, with what was expected and what was seen. */
export class Mismatch extends Error {}

export function expect(ok, message) {
  if (!ok) throw new Mismatch(message);
}

export function expectEq(seen, wanted, what) {
  const a = JSON.stringify(seen);
  const b = JSON.stringify(wanted);
  if (a !== b) throw new Mismatch(`${what}: the page shows ${a}, expected ${b}`);
}

/**
 * Runs one named check of `page` and records its outcome; a failure is
 * printed with its reason and does not stop the run.
 */
export async function check(page, name, body) {
  const started = Date.now();
  try {
    await body();
    results.push({ page, name, ok: true });
  } catch (e) {
    const why = e instanceof Mismatch ? e.message : (e && e.stack) || String(e);
    results.push({ page, name, ok: false, why });
    console.log(`  FAIL ${page} :: ${name}: ${why} (after ${Date.now() - started} ms)`);
  }
}

/** One line per page: how many of its checks held, and which did not. */
export function summary() {
  const pages = [...new Set(results.map((r) => r.page))];
  console.log("\nsummary:");
  for (const p of pages) {
    const mine = results.filter((r) => r.page === p);
    const failed = mine.filter((r) => !r.ok);
    const status = failed.length === 0 ? "ok  " : "FAIL";
    const names = failed.length === 0 ? "" : `; failed: ${failed.map((r) => r.name).join(", ")}`;
    console.log(`  ${status} ${p}: ${mine.length - failed.length}/${mine.length} checks${names}`);
  }
  const failed = results.filter((r) => !r.ok).length;
  console.log(`  ${results.length - failed} of ${results.length} checks held`);
  return failed;
}

// ---------------------------------------------------------------- waiting

/**
 * Polls `probe` (async, answers a value or undefined) until it answers,
 * failing with `what` after DEADLINE_MS.
 */
export async function until(what, probe, deadlineMs = DEADLINE_MS) {
  const end = Date.now() + deadlineMs;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Mismatch(`gave up after ${deadlineMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until `probe` (async) answers a true value, like `until`, but fails
 * at once if the opened page has met a problem (a script that did not load,
 * an event stream refused): what it waits for cannot happen then.
 */
export async function settle(opened, what, probe, deadlineMs = DEADLINE_MS) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (opened.problems.length > 0) {
      throw new Mismatch(`${what} never happened; the page met: ${opened.problems.join("; ")}`);
    }
    if (Date.now() > end) throw new Mismatch(`gave up after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------- pages

/**
 * Opens `path` in a new tab of `context`, collecting console errors,
 * uncaught exceptions, failed requests and error answers. `allow` lists
 * URLs (absolute) whose error status is deliberate.
 */
export async function open(context, base, path, { allow = [] } = {}) {
  console.log(`  [${((Date.now() - STARTED_MS) / 1000).toFixed(1)} s] open ${path.length > 60 ? `${path.slice(0, 57)}…` : path}`);
  const page = await context.newPage();
  const problems = [];
  let closing = false;
  // Chromium asks for /favicon.ico by itself, after the load and only for
  // some pages, so whether a page sees its answer is a matter of timing:
  // dashboard.mjs checks the icon once, directly, instead.
  const allowed = (url) => allow.some((a) => url === a) || new URL(url, base).pathname === "/favicon.ico";
  page.on("console", (m) => {
    if (m.type() !== "error" || closing) return;
    const at = m.location()?.url ?? "";
    // Chromium logs each error answer as "Failed to load resource"; the
    // answer itself is judged below, by its URL.
    if (m.text().startsWith("Failed to load resource") && allowed(at)) return;
    problems.push(`console error: ${m.text()}${at ? ` (at ${at})` : ""}`);
  });
  page.on("pageerror", (e) => problems.push(`uncaught exception: ${e.message}`));
  page.on("requestfailed", (r) => {
    if (closing) return;
    problems.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400 && !allowed(r.url())) {
      problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
    }
  });
  const response = await page.goto(base + path, { waitUntil: "load", timeout: DEADLINE_MS });
  return {
    page,
    response,
    problems,
    /** Closes the tab; what fails while it closes (its event streams) is not a problem. */
    async close() {
      closing = true;
      await page.close();
    },
  };
}

/** Takes a full-page screenshot NAME.png into `dir`. */
export async function screenshot(page, dir, name) {
  await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true, animations: "disabled", caret: "hide" });
}

/** The text of one element (trimmed), or fails naming the selector. */
export async function text(page, selector) {
  const el = await page.$(selector);
  expect(el !== null, `no element matches ${selector}`);
  return (await el.textContent()).trim();
}

/** A figure as the page writes it (`1,234`), as a number; `—` is null. */
export function figure(shown) {
  const t = shown.trim();
  if (t === "—" || t === "") return null;
  const digits = t.replace(/,/g, "");
  expect(/^[0-9]+$/.test(digits), `${JSON.stringify(shown)} is not a figure`);
  return Number(digits);
}

/** Like `figure`, for a probe that waits: anything but a figure is null. */
export function figureOrNull(shown) {
  const digits = shown.trim().replace(/,/g, "");
  return /^[0-9]+$/.test(digits) ? Number(digits) : null;
}

/**
 * A `table[data-list=NAME]` as the page shows it: its header texts, its
 * `data-rows`, and each row's cells, a cell read as its whole value (the
 * `title` of an id or account cut short) or its text, `—` as "".
 */
export async function table(page, name) {
  const t = await page.$(`table[data-list="${name}"]`);
  expect(t !== null, `no table[data-list="${name}"] on the page`);
  return t.evaluate((el) => {
    const value = (td) => {
      const titled = td.querySelector("[title]");
      if (titled) return titled.getAttribute("title");
      const t = td.textContent.trim();
      return t === "—" ? "" : t;
    };
    return {
      headers: [...el.tHead.rows[0].cells].map((th) => th.textContent.trim()),
      dataRows: el.dataset.rows,
      rows: [...el.tBodies[0].rows].map((tr) => ({
        live: tr.dataset.live === "true",
        tx: tr.dataset.tx ?? null,
        cells: [...tr.cells].map(value),
      })),
    };
  });
}

// ---------------------------------------------------------------- CSV

/**
 * Parses CSV strictly as RFC 4180 writes it: records end with CRLF (the
 * last one too), fields are separated by commas, a field with a comma,
 * quote or line break is quoted and its quotes doubled. Anything else (a
 * bare LF or CR, a quote inside an unquoted field, text after a closing
 * quote, an unterminated quote, records of different widths) is an error.
 */
export function parseCsv(input) {
  const records = [];
  let record = [];
  let i = 0;
  const n = input.length;
  const fail = (why) => {
    throw new Mismatch(`CSV is not RFC 4180 at offset ${i}: ${why}`);
  };
  if (n === 0) fail("empty: no header record");
  while (i < n) {
    let field = "";
    if (input[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) fail("a quoted field is never closed");
        const c = input[i];
        if (c === '"') {
          if (input[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += c;
        i++;
      }
    } else {
      while (i < n && input[i] !== "," && input[i] !== "\r" && input[i] !== "\n") {
        if (input[i] === '"') fail("a quote inside an unquoted field");
        field += input[i];
        i++;
      }
    }
    record.push(field);
    if (i >= n) fail("the last record does not end with CRLF");
    if (input[i] === ",") {
      i++;
      continue;
    }
    if (input[i] === "\r" && input[i + 1] === "\n") {
      i += 2;
      records.push(record);
      record = [];
      continue;
    }
    fail(`${JSON.stringify(input[i])} where a comma or CRLF must follow a field`);
  }
  if (record.length > 0) fail("the last record does not end with CRLF");
  const width = records[0].length;
  records.forEach((r, k) => {
    if (r.length !== width) throw new Mismatch(`CSV record ${k} has ${r.length} fields, the header ${width}`);
  });
  return records;
}

// ---------------------------------------------------------------- random

/** Mulberry32: a small seeded generator, so a failing run replays from its printed seed. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { below: (k) => Math.floor(next() * k) };
}

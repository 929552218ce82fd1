// Self-test of the dashboard's in-page verifier (../verify.js), for plain
// Node (20.19 or later: no npm packages, only the vendored files):
//
//   node crates/ting-node/web/test/verify.test.mjs
//
// It checks the Ed25519 rule on docs/test-vectors/ed25519_rule.json, the
// decoders and proofs on docs/test-vectors/transactions.json, and receipts
// and account answers a live dev node served (fixtures/, made with `ting node
// --dev`), valid as served and failing at the right step when tampered with;
// then the trust-on-first-use pin, the rendering and the page's autoRun with
// a small stand-in for the DOM. Exits 1 if anything failed.

import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import * as verify from '../verify.js';
import * as wire from '../ting-wire.js';
import * as noble from '../vendor/noble-ed25519-3.2.0/index.js';

const here = new URL('.', import.meta.url);
const repo = new URL('../../../../', here);
const readJson = (url) => JSON.parse(readFileSync(url, 'utf8'));
const fixture = (name) => readJson(new URL(`fixtures/${name}`, here));
const vectors = (name) => readJson(new URL(`docs/test-vectors/${name}`, repo));
const hex = (text) => wire.hexToBytes(text);
const toHex = wire.bytesToHex;
const clone = (value) => JSON.parse(JSON.stringify(value));

// ---- The harness ----

const failures = [];
let passed = 0;

async function test(name, body) {
  try {
    await body();
    passed += 1;
  } catch (error) {
    failures.push(name);
    console.log(`FAIL ${name}\n     ${error.stack ?? error}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function assertEqual(got, want, message) {
  const show = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
  if (show(got) !== show(want)) throw new Error(`${message}: got ${show(got)}, want ${show(want)}`);
}

/** The names of the steps that failed, sorted: what a tampered input must show. */
const failedSteps = (result) => result.steps.filter((s) => !s.ok).map((s) => s.name).sort();

function expectFailures(result, want, what) {
  assertEqual(failedSteps(result), [...want].sort(), `${what}: failed steps`);
  assert(result.ok === (want.length === 0), `${what}: ok is ${result.ok}`);
}

/** Flips one bit of the byte at `offset` of a hex string. */
function flipHex(text, offset, bit = 0) {
  const bytes = hex(text);
  bytes[offset] ^= 1 << bit;
  return toHex(bytes);
}

// ---- Ed25519: the ZIP-215 rule on its edge cases ----

const ed25519Cases = vectors('ed25519_rule.json').cases;
const caseBytes = (c) => [hex(c.public_key_hex), hex(c.message_hex), hex(c.signature_hex)];

await test('every ed25519 rule vector gets its ZIP-215 verdict', () => {
  const wrong = ed25519Cases.filter((c) => verify.verifyEd25519(...caseBytes(c)) !== c.valid).map((c) => c.name);
  assertEqual(wrong, [], 'cases with the wrong verdict');
  assert(ed25519Cases.length >= 80, 'the vector file holds every case');
});

await test('flipping any bit of a valid honest signature makes it invalid', () => {
  for (const c of ed25519Cases.filter((x) => x.name.startsWith('honest'))) {
    const [key, msg, sig] = caseBytes(c);
    for (let bit = 0; bit < 512; bit += 7) {
      const bad = sig.slice();
      bad[bit >> 3] ^= 1 << (bit & 7);
      assert(!verify.verifyEd25519(key, msg, bad), `${c.name} with bit ${bit} flipped`);
    }
  }
});

await test('malformed arguments are invalid, never an exception', () => {
  const [key, msg, sig] = caseBytes(ed25519Cases.find((c) => c.valid));
  assert(!verify.verifyEd25519(key.subarray(1), msg, sig), 'a 31-byte key');
  assert(!verify.verifyEd25519(key, msg, sig.subarray(1)), 'a 63-byte signature');
  assert(!verify.verifyEd25519(toHex(key), msg, sig), 'a key given as text');
  assert(!verify.verifyEd25519(key, null, sig), 'no message');
});

/** What other verifiers say on the same cases: the vectors must tell them apart. */
async function otherVerdicts() {
  const strict = ed25519Cases.filter((c) => {
    const [key, msg, sig] = caseBytes(c);
    try {
      return noble.verify(sig, msg, key, { zip215: false }) !== c.valid;
    } catch {
      return c.valid;
    }
  }).length;
  let webCrypto = null;
  try {
    webCrypto = 0;
    for (const c of ed25519Cases) {
      const [key, msg, sig] = caseBytes(c);
      let verdict = false;
      try {
        const imported = await webcrypto.subtle.importKey('raw', key, { name: 'Ed25519' }, false, ['verify']);
        verdict = await webcrypto.subtle.verify({ name: 'Ed25519' }, imported, sig, msg);
      } catch {
        verdict = false;
      }
      if (verdict !== c.valid) webCrypto += 1;
    }
  } catch {
    webCrypto = null;
  }
  return { strict, webCrypto };
}

await test('the vectors separate ZIP-215 from strict RFC 8032 verifiers', async () => {
  const { strict, webCrypto } = await otherVerdicts();
  console.log(`     ed25519_rule.json: ${ed25519Cases.length} cases (${ed25519Cases.filter((c) => c.valid).length} valid); ` +
    `verify.js agrees on all; noble with zip215=false disagrees on ${strict}; ` +
    `this Node's WebCrypto Ed25519 disagrees on ${webCrypto ?? 'n/a (unsupported)'}`);
  assert(strict > 0, 'a strict verifier disagrees somewhere, or the vectors test nothing');
});

// ---- docs/test-vectors/transactions.json ----

const txVectors = vectors('transactions.json');
const vectorTrust = () => verify.trustFromGenesis({ hex: txVectors.genesis[0].encoded_hex });

await test('account ids: did:key and hex forms agree with the vectors', () => {
  for (const a of txVectors.accounts) {
    assertEqual(toHex(wire.parseAccountId(a.did)), a.hex, `${a.name}: did to bytes`);
    assertEqual(wire.keyToDid(hex(a.hex)), a.did, `${a.name}: bytes to did`);
  }
  assertEqual(wire.parseAccountId('did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooW'), null, 'a did of 33 bytes');
});

await test('each genesis vector decodes and hashes to its genesis hash', () => {
  for (const g of txVectors.genesis) {
    const bytes = hex(g.encoded_hex);
    const decoded = wire.decodeGenesis(bytes);
    assertEqual(toHex(wire.genesisHash(bytes)), g.genesis_hash_hex, `${g.name}: hash`);
    assertEqual(decoded.sequencers.map(toHex), g.fields.sequencers, `${g.name}: sequencers`);
    assertEqual(decoded.name, g.fields.name, `${g.name}: name`);
    let refused = null;
    try {
      wire.decodeGenesis(hex(`${g.encoded_hex}00`));
    } catch (error) {
      refused = error.code;
    }
    assertEqual(refused, 'trailing_bytes', `${g.name} with a byte more`);
  }
});

await test('each transaction vector verifies under its sender and hashes to its tx_hash', () => {
  for (const t of txVectors.transactions) {
    const [key, msg, sig] = [hex(t.public_key_hex), hex(t.signing_message_hex), hex(t.signature_hex)];
    assert(verify.verifyEd25519(key, msg, sig), `${t.name}: signature`);
    assertEqual(toHex(wire.txHash(hex(t.encoded_hex))), t.tx_hash_hex, `${t.name}: hash`);
    const bad = sig.slice();
    bad[5] ^= 0x10;
    assert(!verify.verifyEd25519(key, msg, bad), `${t.name}: a flipped bit`);
  }
});

await test('each merkle vector proof verifies, and not with a sibling bit flipped', () => {
  for (const m of txVectors.merkle) {
    for (const p of m.proofs) {
      const siblings = p.siblings_hex.map(hex);
      const leaf = hex(m.tx_hashes_hex[p.index]);
      assert(wire.verifyMerklePath(leaf, p.index, p.count, siblings, hex(m.root_hex)).ok, `${m.count}/${p.index}`);
      if (siblings.length > 0) {
        siblings[0] = hex(flipHex(p.siblings_hex[0], 3));
        assert(!wire.verifyMerklePath(leaf, p.index, p.count, siblings, hex(m.root_hex)).ok, `${m.count}/${p.index} flipped`);
      }
    }
  }
});

await test('each block vector header decodes, hashes and is signed; its receipts check', async () => {
  const trust = vectorTrust();
  for (const b of txVectors.blocks) {
    const header = wire.decodeHeader(hex(b.header_hex));
    assertEqual(toHex(wire.blockSigningMessage(header)), b.signing_message_hex, `${b.name}: signing message`);
    assertEqual(toHex(wire.blockHash(header)), b.block_hash_hex, `${b.name}: block hash`);
    for (const [i, r] of b.receipts.entries()) {
      const json = { tx_hash: r.tx_hash_hex, proof: { ...r.proof, siblings: r.proof.siblings_hex }, header: { hex: b.header_hex } };
      const result = await verify.checkReceipt(json, trust, { txHex: b.transactions_hex[i] });
      expectFailures(result, [], `${b.name} receipt ${i}`);
    }
  }
});

/** The node's JSON for an account answer (api.md §6.3), built from a state-proof vector. */
function accountAnswerJson(proofVector) {
  const entry = txVectors.state_proofs.entries.find((e) => e.name === proofVector.name);
  const record = entry?.record ?? { balance: '0', nonce: '0', device: null, messaging_key: null };
  const timestamp = BigInt(txVectors.state_proofs.header.fields.timestamp);
  const device = record.device && {
    owner: wire.keyToDid(hex(record.device.owner)),
    per_day: record.device.per_day === null ? null : Number(record.device.per_day),
    spent_today: BigInt(record.device.spent_day) === timestamp / wire.DAY_MS ? Number(record.device.spent) : 0,
    frozen: record.device.frozen,
    metadata_hex: record.device.metadata_hex,
  };
  return {
    hex: proofVector.id, balance: Number(record.balance), nonce: Number(record.nonce), device,
    messaging_key: record.messaging_key, proof: { hex: proofVector.answer_hex },
  };
}

await test('each account state-proof vector checks, and fails as wire.md §12.3 says when tampered', async () => {
  for (const p of txVectors.state_proofs.proofs.filter((x) => x.kind === 'account')) {
    const json = accountAnswerJson(p);
    expectFailures(await verify.checkAccountProof(json, vectorTrust()), [], p.name);
    const stale = { ...vectorTrust(), heightSeen: 43n };
    expectFailures(await verify.checkAccountProof(json, stale), ['fresh'], `${p.name} after height 43`);
    const other = { ...vectorTrust(), genesisHash: txVectors.genesis[1].genesis_hash_hex };
    expectFailures(await verify.checkAccountProof(json, other), ['genesis'], `${p.name} on another genesis`);
    const sibling = clone(json);
    sibling.proof.hex = flipHex(json.proof.hex, json.proof.hex.length / 2 - 1);
    expectFailures(await verify.checkAccountProof(sibling, vectorTrust()), ['record_matches', 'state_proof'], `${p.name} with a sibling flipped`);
  }
});

await test('each state-proof vector walks from its key to the root', () => {
  const root = hex(txVectors.state_proofs.root_hex);
  for (const p of txVectors.state_proofs.proofs) {
    const answer = wire.decodeStateAnswer(hex(p.answer_hex));
    const verdict = wire.verifyStateProof(answer.proof, hex(p.key_hex), root);
    assert(verdict.ok, `${p.name}: ${verdict.reason}`);
    assertEqual(verdict.value ? toHex(verdict.value) : null, p.present ? p.value_hash_hex : null, `${p.name}: value`);
  }
});

// ---- Receipts a live dev node served ----

const trust = () => verify.trustFromGenesis(fixture('genesis.json'));
const receiptCases = ['index4', 'index1', 'faucet'];

await test('the receipts the node served verify, with their transactions', async () => {
  for (const name of receiptCases) {
    const result = await verify.checkReceipt(fixture(`receipt-${name}.json`), trust(), { txHex: fixture(`transaction-${name}.json`).hex });
    expectFailures(result, [], name);
    assert(result.steps.some((s) => s.name === 'tx_hash'), `${name}: the transaction's hash was checked`);
    assert(/Checked in this page against sequencer did:key:z6Mk/.test(result.summary), `${name}: summary ${result.summary}`);
  }
});

/** Tampered receipts of block 2 position 4 of 5, and the steps each must fail. */
function tamperedReceipts() {
  const base = fixture('receipt-index4.json');
  const txHex = fixture('transaction-index4.json').hex;
  const variant = (change) => {
    const json = clone(base);
    change(json);
    return json;
  };
  const signatureAt = 189 + 10;
  return [
    ['a flipped bit in a sibling', variant((r) => { r.proof.siblings[0] = flipHex(r.proof.siblings[0], 7); }), ['merkle_proof']],
    ['a flipped bit in tx_hash', variant((r) => { r.tx_hash = flipHex(r.tx_hash, 0); }), ['merkle_proof', 'tx_hash']],
    ['a flipped bit in the header signature', variant((r) => {
      r.header.hex = flipHex(r.header.hex, signatureAt);
      r.header.signature = toHex(hex(r.header.hex).subarray(189));
    }), ['signature']],
    ['a flipped signature bit, the old one still shown', variant((r) => { r.header.hex = flipHex(r.header.hex, signatureAt); }), ['shown_fields', 'signature']],
    ['a flipped bit in the header tx_root', variant((r) => { r.header.hex = flipHex(r.header.hex, 100); }),
      ['block_hash', 'merkle_proof', 'shown_fields', 'signature']],
    ['a height shown that the bytes do not say', variant((r) => { r.height = 3; r.header.height = 3; }), ['shown_fields']],
    ['another position', variant((r) => { r.proof.index = 3; r.index = 3; }), ['merkle_proof']],
    ['an index equal to the count', variant((r) => { r.proof.index = 5; r.index = 5; }), ['merkle_proof']],
    ['another leaf count', variant((r) => { r.proof.count = 6; }), ['merkle_proof', 'proof_count']],
    ['an extra sibling', variant((r) => { r.proof.siblings.push(r.proof.siblings[0]); }), ['merkle_proof']],
    ['a missing sibling', variant((r) => { r.proof.siblings.pop(); }), ['merkle_proof']],
    ['a header one byte short', variant((r) => { r.header.hex = r.header.hex.slice(0, -2); }),
      ['block_hash', 'genesis', 'header', 'merkle_proof', 'proof_count', 'sequencer', 'shown_fields', 'signature']],
    ['a header of another version', variant((r) => { r.header.hex = `01${r.header.hex.slice(2)}`; }),
      ['block_hash', 'genesis', 'header', 'merkle_proof', 'proof_count', 'sequencer', 'shown_fields', 'signature']],
    ['the receipt of a transaction of another genesis', fixture('receipt-other-genesis.json'), ['genesis', 'sequencer'], null],
    ['another transaction given', base, ['tx_hash'], fixture('transaction-index1.json').hex],
    ['a transaction with a flipped bit', base, ['tx_hash'], flipHex(txHex, 150)],
  ].map(([what, json, failing, tx = txHex]) => ({ what, json, failing, tx }));
}

await test('tampered receipts fail at the right step', async () => {
  for (const { what, json, failing, tx } of tamperedReceipts()) {
    const result = await verify.checkReceipt(json, trust(), tx === null ? {} : { txHex: tx });
    expectFailures(result, failing, what);
    assert(result.summary.startsWith('This receipt does not prove'), `${what}: summary ${result.summary}`);
  }
});

await test('a receipt that is not a receipt at all fails without throwing', async () => {
  for (const junk of [null, 42, 'text', {}, { header: { hex: 'zz' } }, { proof: { siblings: 'no' } }]) {
    const result = await verify.checkReceipt(junk, trust());
    assert(!result.ok && result.steps.length > 0, `${JSON.stringify(junk)} is refused`);
  }
});

// ---- Account answers a live dev node served ----

const accountCases = ['alice', 'device', 'absent'];

await test('the account answers the node served verify, the absent one as holding nothing', async () => {
  for (const name of accountCases) {
    const json = fixture(`account-${name}.json`);
    const result = await verify.checkAccountProof(json, trust(), { account: json.id });
    expectFailures(result, [], name);
  }
  const absent = await verify.checkAccountProof(fixture('account-absent.json'), trust());
  assert(/has no record at block/.test(absent.summary), absent.summary);
  const device = await verify.checkAccountProof(fixture('account-device.json'), trust());
  assert(/holds 767 base units with next nonce 1/.test(device.summary), device.summary);
});

/** Where the record and the proof sit in an answer's hex. */
function answerLayout(json) {
  const answer = wire.decodeStateAnswer(hex(json.proof.hex));
  const recordAt = 253 + 1 + 2;
  const proofAt = recordAt + (answer.record?.length ?? -2);
  return { answer, recordAt, proofAt, total: hex(json.proof.hex).length };
}

/** Rewrites an answer's hex: header, record (or none) and the proof bytes as they were. */
function withRecord(json, record) {
  const bytes = hex(json.proof.hex);
  const { answer, proofAt } = answerLayout(json);
  const head = record === null ? Uint8Array.of(0) : wire.concatBytes(Uint8Array.of(1, record.length & 0xff, record.length >> 8), record);
  return toHex(wire.concatBytes(answer.header.bytes, head, bytes.subarray(proofAt)));
}

function tamperedAnswers() {
  const alice = fixture('account-alice.json');
  const absent = fixture('account-absent.json');
  const { recordAt, proofAt, total } = answerLayout(alice);
  const variant = (base, change) => {
    const json = clone(base);
    change(json);
    return json;
  };
  return [
    ['a flipped bit in the record balance', variant(alice, (a) => { a.proof.hex = flipHex(a.proof.hex, recordAt); }), ['record_matches', 'shown_values']],
    ['a flipped bit in the bucket entry value', variant(alice, (a) => { a.proof.hex = flipHex(a.proof.hex, proofAt + 8 + 40); }), ['record_matches', 'state_proof']],
    ['a flipped bit in the last sibling', variant(alice, (a) => { a.proof.hex = flipHex(a.proof.hex, total - 1); }), ['record_matches', 'state_proof']],
    ['another bucket', variant(alice, (a) => { a.proof.hex = flipHex(a.proof.hex, proofAt); }), ['record_matches', 'shown_values', 'state_proof']],
    ['a flipped bit in the header signature', variant(alice, (a) => { a.proof.hex = flipHex(a.proof.hex, 200); }), ['shown_values', 'signature']],
    ['the record left out', variant(alice, (a) => { a.proof.hex = withRecord(a, null); }), ['record_matches', 'shown_values']],
    ['a record sent for an account that holds none', variant(absent, (a) => { a.proof.hex = withRecord(a, hex(alice.proof.record_hex)); }),
      ['record_matches', 'shown_values']],
    ['a balance shown that the record does not hold', variant(alice, (a) => { a.balance += 1; }), ['shown_values']],
    ['a nonce shown that the record does not hold', variant(alice, (a) => { a.nonce = 0; }), ['shown_values']],
    ['a device shown as not frozen', variant(fixture('account-device.json'), (a) => { a.device.frozen = false; }), ['shown_values']],
    ['the answer about another account', variant(alice, (a) => { a.id = absent.id; a.hex = absent.hex; }),
      ['record_matches', 'state_proof']],
    ['a byte more after the proof', variant(alice, (a) => { a.proof.hex += '00'; }),
      ['answer', 'block_hash', 'fresh', 'genesis', 'record_decodes', 'record_matches', 'sequencer', 'shown_values', 'signature', 'state_proof']],
    ['no proof at all', variant(alice, (a) => { delete a.proof; }),
      ['answer', 'block_hash', 'fresh', 'genesis', 'record_decodes', 'record_matches', 'sequencer', 'shown_values', 'signature', 'state_proof']],
  ];
}

await test('tampered account answers fail at the right step', async () => {
  for (const [what, json, failing] of tamperedAnswers()) {
    expectFailures(await verify.checkAccountProof(json, trust()), failing, what);
  }
});

await test('an answer older than one already checked is stale, and a passed one raises the mark', async () => {
  const t = trust();
  const json = fixture('account-alice.json');
  expectFailures(await verify.checkAccountProof(json, t), [], 'first answer');
  assertEqual(t.heightSeen, BigInt(json.height), 'the height seen after a passed answer');
  t.heightSeen += 1n;
  expectFailures(await verify.checkAccountProof(json, t), ['fresh'], 'the same answer after a higher one');
});

await test('an account asked about is checked against the answer for it', async () => {
  const alice = fixture('account-alice.json');
  const asked = fixture('account-device.json').id;
  expectFailures(await verify.checkAccountProof(alice, trust(), { account: asked }), ['record_matches', 'shown_values', 'state_proof'], 'asked for the device, answered about alice');
  expectFailures(await verify.checkAccountProof(alice, trust(), { account: 'nobody' }),
    ['account', 'block_hash', 'fresh', 'genesis', 'record_decodes', 'record_matches', 'sequencer', 'shown_values', 'signature', 'state_proof'], 'an unreadable id');
});

// ---- The page: storage, fetching, rendering ----

class MemoryStorage {
  constructor() { this.items = new Map(); }
  getItem(key) { return this.items.has(key) ? this.items.get(key) : null; }
  setItem(key, value) { this.items.set(key, String(value)); }
  removeItem(key) { this.items.delete(key); }
}

/** A fetch that answers from the fixtures, as the node would. */
function fixtureFetch(routes) {
  const calls = [];
  const fetchFn = async (url) => {
    calls.push(url);
    const body = routes[url];
    const ok = body !== undefined;
    return { ok, status: ok ? 200 : 404, json: async () => (ok ? clone(body) : { error: { code: 'not_found', message: 'no such thing' } }) };
  };
  return { fetchFn, calls };
}

await test('trust on first use: the first genesis is pinned, another is refused until pinned by hand', async () => {
  globalThis.localStorage = new MemoryStorage();
  try {
    const first = await verify.loadTrust(fixtureFetch({ '/v1/genesis': fixture('genesis.json') }).fetchFn);
    assert(first.pinned && first.pinnedHow === 'first-visit' && first.trusted && !first.warning, 'pinned on first visit');
    assertEqual(globalThis.localStorage.getItem('ting.genesis'), first.genesisHash, 'the stored pin');
    assertEqual(first.sequencers.map(wire.keyToDid), fixture('genesis.json').sequencers, 'sequencers from the bytes');
    const checked = await verify.checkReceipt(fixture('receipt-index4.json'), first);
    assert(/^Transaction 2d7d8102… is in block 2 \(position 4 of 5\)\. Checked in this page against sequencer did:key:z6Mk\S+ of genesis 0a31c8e0…, pinned on first visit\.$/.test(checked.summary), checked.summary);
    const again = await verify.loadTrust(fixtureFetch({ '/v1/genesis': fixture('genesis.json') }).fetchFn);
    assert(again.trusted && again.pinnedHow === 'first-visit', 'the same genesis later');
    const other = await verify.loadTrust(fixtureFetch({ '/v1/genesis': fixture('genesis-other.json') }).fetchFn);
    assert(!other.trusted && /has genesis \w+ pinned on first visit/.test(other.warning), 'another genesis is not trusted');
    assertEqual(other.genesisHash, fixture('genesis-other.json').hash, 'the served hash is still given');
    const refused = await verify.checkReceipt(fixture('receipt-other-genesis.json'), other);
    expectFailures(refused, ['trust'], 'a receipt of the new genesis before it is pinned');
    assert(/does not trust/.test(refused.summary), refused.summary);
    verify.pinGenesis(fixture('genesis-other.json').hash);
    const pinned = await verify.loadTrust(fixtureFetch({ '/v1/genesis': fixture('genesis-other.json') }).fetchFn);
    assert(pinned.trusted && pinned.pinnedHow === 'by-hand', 'pinned by hand');
    expectFailures(await verify.checkReceipt(fixture('receipt-other-genesis.json'), pinned), [], 'after pinning by hand');
  } finally {
    verify.forgetGenesis();
    delete globalThis.localStorage;
  }
});

await test('a genesis answer whose shown hash or sequencers differ from its bytes is not trusted', () => {
  const wrongHash = { ...fixture('genesis.json'), hash: fixture('genesis-other.json').hash };
  const wrongKeys = { ...fixture('genesis.json'), sequencers: fixture('genesis-other.json').sequencers };
  for (const answer of [wrongHash, wrongKeys]) {
    const t = verify.trustFromGenesis(answer);
    assert(!t.trusted && t.warning, 'a warning');
    assertEqual(t.genesisHash, fixture('genesis.json').hash, 'the hash of the bytes');
  }
});

/** Just enough of the DOM for renderCheck and autoRun. */
class FakeElement {
  constructor(doc, tag, attributes = {}) {
    Object.assign(this, { ownerDocument: doc, tagName: tag, children: [], parent: null, textContent: '', listeners: {} });
    this.attributes = new Map(Object.entries(attributes));
  }
  getAttribute(name) { return this.attributes.has(name) ? this.attributes.get(name) : null; }
  setAttribute(name, value) { this.attributes.set(name, String(value)); }
  append(...nodes) { for (const n of nodes) { n.parent = this; this.children.push(n); } }
  remove() { this.parent.children = this.parent.children.filter((c) => c !== this); }
  addEventListener(type, fn) { this.listeners[type] = fn; }
  find(predicate) { return this.children.flatMap((c) => [c, ...c.find(() => true)]).filter(predicate); }
}

class FakeDocument {
  constructor(elements) {
    this.readyState = 'complete';
    this.body = new FakeElement(this, 'body');
    this.body.append(...elements(this));
  }
  createElement(tag) { return new FakeElement(this, tag); }
  querySelectorAll(selector) {
    const [, tag, id, attribute] = selector.match(/^(\w+)#([\w-]+)(?:\[([\w-]+)\])?$/);
    return this.body.find((e) => e.tagName === tag && e.getAttribute('id') === id && (!attribute || e.getAttribute(attribute) !== null));
  }
  querySelector(selector) { return this.querySelectorAll(selector)[0] ?? null; }
}

const rendered = (section) => ({
  result: section.getAttribute('data-result'),
  summary: section.find((e) => e.getAttribute('data-check-part') === 'summary')[0]?.textContent,
  steps: section.find((e) => e.tagName === 'li').map((li) => [li.getAttribute('data-step'), li.getAttribute('data-ok')]),
});

await test('renderCheck writes the verdict, the summary and one item per step, and replaces an earlier one', async () => {
  const doc = new FakeDocument((d) => [new FakeElement(d, 'section', { id: 'receipt-check' })]);
  const section = doc.querySelector('section#receipt-check');
  const bad = await verify.checkReceipt(tamperedReceipts()[0].json, trust());
  verify.renderCheck(section, bad);
  assertEqual(rendered(section).result, 'invalid', 'an invalid receipt');
  const good = await verify.checkReceipt(fixture('receipt-index4.json'), trust());
  verify.renderCheck(section, good);
  const view = rendered(section);
  assertEqual(view.result, 'valid', 'a valid receipt');
  assertEqual(view.steps, good.steps.map((s) => [s.name, 'true']), 'one item per step');
  assertEqual(section.children.length, 2, 'the earlier rendering is gone');
  assert(view.summary.includes('pinned') || view.summary.includes('not pinned'), view.summary);
  verify.renderCheck(section, verify.errorResult('the node did not answer'));
  assertEqual(rendered(section).result, 'error', 'an error');
});

await test('autoRun checks the marked sections and a pasted receipt, from the node\'s answers', async () => {
  const tx = fixture('receipt-index4.json').tx_hash;
  const account = fixture('account-device.json').id;
  const doc = new FakeDocument((d) => [
    new FakeElement(d, 'section', { id: 'receipt-check', 'data-tx': tx }),
    new FakeElement(d, 'section', { id: 'state-check', 'data-account': account }),
    new FakeElement(d, 'textarea', { id: 'receipt-input' }),
    new FakeElement(d, 'button', { id: 'receipt-check-button' }),
  ]);
  const { fetchFn, calls } = fixtureFetch({
    '/v1/genesis': fixture('genesis.json'),
    [`/v1/receipts/${tx}`]: fixture('receipt-index4.json'),
    [`/v1/transactions/${tx}`]: fixture('transaction-index4.json'),
    [`/v1/accounts/${encodeURIComponent(account)}?proof=true`]: fixture('account-device.json'),
  });
  await verify.autoRun(doc, fetchFn);
  const receipt = rendered(doc.querySelector('section#receipt-check'));
  assertEqual(receipt.result, 'valid', `the receipt section (${receipt.summary})`);
  assert(receipt.steps.some(([name]) => name === 'tx_hash'), 'the transaction was fetched and hashed');
  assertEqual(rendered(doc.querySelector('section#state-check')).result, 'valid', 'the state section');
  assertEqual(calls.filter((c) => c === '/v1/genesis').length, 1, 'the genesis is fetched once');
  doc.querySelector('textarea#receipt-input').textContent = '';
  doc.querySelector('textarea#receipt-input').value = JSON.stringify(tamperedReceipts()[0].json);
  await doc.querySelector('button#receipt-check-button').listeners.click();
  assertEqual(rendered(doc.querySelector('section#receipt-check')).result, 'invalid', 'a pasted tampered receipt');
  doc.querySelector('textarea#receipt-input').value = JSON.stringify(fixture('transaction-index1.json'));
  await doc.querySelector('button#receipt-check-button').listeners.click();
  assertEqual(rendered(doc.querySelector('section#receipt-check')).result, 'valid', 'a pasted transaction answer');
  doc.querySelector('textarea#receipt-input').value = 'not json';
  await doc.querySelector('button#receipt-check-button').listeners.click();
  assertEqual(rendered(doc.querySelector('section#receipt-check')).result, 'error', 'pasted text that is not JSON');
});

await test('autoRun shows an error when the node cannot be reached', async () => {
  const doc = new FakeDocument((d) => [new FakeElement(d, 'section', { id: 'receipt-check', 'data-tx': 'ab' })]);
  await verify.autoRun(doc, fixtureFetch({}).fetchFn);
  const view = rendered(doc.querySelector('section#receipt-check'));
  assertEqual(view.result, 'error', 'no genesis');
  assert(/Could not check/.test(view.summary), view.summary);
});

console.log(`${passed} passed, ${failures.length} failed`);
process.exitCode = failures.length === 0 ? 0 : 1;

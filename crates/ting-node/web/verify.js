// The dashboard's in-page verifier (issue 17). The page takes no server's
// word: it fetches the genesis once, computes its hash and reads the
// sequencer keys from its bytes, pins that hash in the browser on first use,
// and then checks receipts (docs/wire.md §10.2) and account state answers
// (§15.6) itself, step by step, with the same Ed25519 rule as the node
// (ZIP-215, §3.2). Each step carries a sentence for people, and the page shows
// them all: a check is valid only if every step holds.
//
// Plain ES module, no build: the node serves this directory at /assets/, and
// the vendored @noble packages sit under ./vendor/ (vendor/VENDORED.md).
// Runs in Node as well (test/verify.test.mjs), where there is no page.

import * as wire from './ting-wire.js';
import { fetchJson, forgetGenesis, loadTrust, pinGenesis, pinPhrase, raiseHeightSeen, trustFromGenesis } from './ting-trust.js';

export { forgetGenesis, loadTrust, pinGenesis, trustFromGenesis };

const { bytesToHex, equalBytes, keyToDid, parseAccountId } = wire;

export const verifyEd25519 = wire.verifyEd25519;

// ---- Steps and results ----

/** Every step a check can take, by its `data-step` name, with the heading people read. */
const STEP_TITLES = {
  trust: 'The genesis is the one this browser trusts',
  header: 'The header decodes from its bytes',
  account: 'The account asked about',
  answer: 'The answer decodes from its bytes',
  genesis: 'The header names the pinned genesis',
  sequencer: 'The signer is a sequencer of that genesis',
  signature: "The sequencer's signature over the header holds",
  block_hash: 'The block hash',
  shown_fields: 'What the node shows agrees with the signed bytes',
  proof_count: "The proof's leaf count is the block's",
  merkle_proof: "The Merkle path leads to the header's tx_root",
  tx_hash: 'The transaction hashes to tx_hash',
  fresh: 'The answer is not older than one already checked',
  state_proof: "The state proof leads to the header's state_root",
  record_matches: 'The record is the one the proof commits to',
  record_decodes: 'The record decodes',
  shown_values: 'What the node shows agrees with the signed bytes',
};

/** The steps of one check, in order; the check holds only if every one does. */
class Steps {
  constructor() {
    this.list = [];
  }

  add(name, ok, detail) {
    this.list.push({ name, title: STEP_TITLES[name], ok: Boolean(ok), detail });
    return Boolean(ok);
  }

  notRun(name, why) {
    return this.add(name, false, `Not checked, because ${why}.`);
  }

  get ok() {
    return this.list.length > 0 && this.list.every((s) => s.ok);
  }

  failed() {
    return this.list.filter((s) => !s.ok).map((s) => s.name);
  }

  result(summary) {
    return { ok: this.ok, steps: this.list, summary };
  }
}

/** A check that could not even start (a fetch failed, the genesis did not load). */
export function errorResult(message) {
  return { ok: false, error: String(message), steps: [], summary: `Could not check: ${message}` };
}

const short = (text) => (text.length > 20 ? `${text.slice(0, 16)}…${text.slice(-4)}` : text);
const shortHash = (hex) => `${hex.slice(0, 8)}…`;

function trustStep(steps, trust) {
  if (!trust || typeof trust.genesisHash !== 'string' || !Array.isArray(trust.sequencers)) {
    return steps.add('trust', false, 'No genesis was loaded to check against.');
  }
  if (trust.warning || trust.trusted === false) {
    return steps.add('trust', false, trust.warning ?? 'The genesis is not trusted.');
  }
  const keys = trust.sequencers.map(keyToDid).join(', ');
  return steps.add('trust', true,
    `Genesis ${trust.genesisHash}${trust.name ? ` ("${trust.name}")` : ''}, ${pinPhrase(trust.pinnedHow)}. ` +
      `Its hash and its sequencer keys (${keys}) were computed in this page from the genesis bytes.`);
}

function trustedAgainst(trust, header) {
  if (trust?.warning || trust?.trusted === false) {
    return `Checked in this page against genesis ${shortHash(trust.genesisHash ?? '?')}, which this browser does not trust.`;
  }
  const pin = pinPhrase(trust?.pinnedHow);
  const signer = header ? `sequencer ${short(keyToDid(header.sequencer))} of ` : '';
  return `Checked in this page against ${signer}genesis ${shortHash(trust?.genesisHash ?? '?')}, ${pin}.`;
}

function failedSummary(what, steps, trust) {
  const failed = steps.failed();
  const checks = failed.length === 1 ? 'check' : 'checks';
  return `${what}: ${failed.length} ${checks} failed (${failed.join(', ')}). ${trustedAgainst(trust, null)}`;
}

// ---- The header, shared by receipts and state answers (§7, §10.2 steps 2–4) ----

function describeTime(ms) {
  return ms <= 8640000000000000n ? new Date(Number(ms)).toISOString() : `${ms} ms`;
}

function describeHeader(header) {
  return `block ${header.height} of genesis ${shortHash(bytesToHex(header.genesis))}, cut at ` +
    `${describeTime(header.timestamp)} with ${header.txCount} transaction${header.txCount === 1 ? '' : 's'}, ` +
    `signed by ${keyToDid(header.sequencer)}`;
}

function headerSteps(steps, header, trust, shownHashes) {
  const genesis = bytesToHex(header.genesis);
  steps.add('genesis', genesis === trust?.genesisHash,
    genesis === trust?.genesisHash
      ? `The header's genesis is ${genesis}, the one this page checks against.`
      : `The header belongs to genesis ${genesis}, not to ${trust?.genesisHash}, the one this page checks against (wrong_network).`);
  const signer = keyToDid(header.sequencer);
  const known = (trust?.sequencers ?? []).some((key) => equalBytes(key, header.sequencer));
  steps.add('sequencer', known,
    known
      ? `${signer} is named as a sequencer in the genesis bytes.`
      : `${signer} is not one of the genesis's sequencers (unknown_sequencer).`);
  const signed = wire.verifyEd25519(header.sequencer, wire.blockSigningMessage(header), header.signature);
  steps.add('signature', signed,
    signed
      ? `The signature is valid under ${short(signer)} over "ting:block:v2" and the 189 unsigned header bytes, by the ZIP-215 rule the node uses.`
      : `The signature does not verify under ${short(signer)} over "ting:block:v2" and the unsigned header (bad_header_signature).`);
  blockHashStep(steps, header, shownHashes);
}

function blockHashStep(steps, header, shownHashes) {
  const computed = bytesToHex(wire.blockHash(header));
  const wrong = Object.entries(shownHashes)
    .filter(([, shown]) => shown !== undefined && String(shown).toLowerCase() !== computed)
    .map(([field, shown]) => `${field} shows ${shown}`);
  steps.add('block_hash', wrong.length === 0,
    wrong.length === 0
      ? `The block hash, SHA-256 of the signing message, is ${computed}.`
      : `The block hash is ${computed}, but ${wrong.join(' and ')}.`);
}

function sameU64(shown, value) {
  if (typeof shown === 'number') return shown === Number(value); // as JSON.parse rounds above 2^53
  return typeof shown === 'string' && /^[0-9]+$/.test(shown) && BigInt(shown) === value;
}

/** The JSON header's fields that disagree with its bytes (api.md §6.2: only `hex` counts). */
function headerFieldMismatches(shown, header, prefix) {
  if (!shown || typeof shown !== 'object') return [];
  const hexFields = { genesis: header.genesis, prev_hash: header.prevHash, tx_root: header.txRoot,
    state_root: header.stateRoot, signature: header.signature };
  const u64Fields = { height: header.height, epoch: header.epoch, timestamp_ms: header.timestamp };
  const wrong = [];
  for (const [field, bytes] of Object.entries(hexFields)) {
    if (field in shown && String(shown[field]).toLowerCase() !== bytesToHex(bytes)) wrong.push(prefix + field);
  }
  for (const [field, value] of Object.entries(u64Fields)) {
    if (field in shown && !sameU64(shown[field], value)) wrong.push(prefix + field);
  }
  if ('tx_count' in shown && shown.tx_count !== header.txCount) wrong.push(`${prefix}tx_count`);
  if ('sequencer' in shown && !sameKey(shown.sequencer, header.sequencer)) wrong.push(`${prefix}sequencer`);
  return wrong;
}

function sameKey(text, key) {
  const parsed = parseAccountId(text);
  return parsed !== null && equalBytes(parsed, key);
}

function shownStep(steps, name, wrong, what) {
  return steps.add(name, wrong.length === 0,
    wrong.length === 0
      ? `Every ${what} the node shows beside the bytes agrees with them; only the bytes were checked.`
      : `The node shows ${wrong.join(', ')} differently from the bytes it sent; trust the bytes, not these fields.`);
}

// ---- Receipts (docs/wire.md §9.3, §10.2) ----

const isU32 = (v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/** tx_hash and the proof as JSON gives them; throws with a sentence if they are malformed. */
function readReceiptProof(json) {
  const txHash = wire.hexToBytes(json?.tx_hash, 'tx_hash');
  if (txHash.length !== 32) throw new Error('tx_hash is not 32 bytes');
  const proof = json?.proof;
  if (!isU32(proof?.index) || !isU32(proof?.count)) throw new Error('proof.index and proof.count are not 32-bit numbers');
  if (!Array.isArray(proof.siblings)) throw new Error('proof.siblings is not a list');
  if (proof.siblings.length > wire.MERKLE_PROOF_DEPTH_MAX) {
    throw new Error(`the proof has ${proof.siblings.length} siblings, more than ${wire.MERKLE_PROOF_DEPTH_MAX}`);
  }
  const siblings = proof.siblings.map((s, i) => {
    const bytes = wire.hexToBytes(s, `sibling ${i}`);
    if (bytes.length !== 32) throw new Error(`sibling ${i} is not 32 bytes`);
    return bytes;
  });
  return { txHash, index: proof.index, count: proof.count, siblings };
}

function decodeStep(steps, name, decode, describe) {
  try {
    const value = decode();
    steps.add(name, true, describe(value));
    return value;
  } catch (error) {
    steps.add(name, false, `${error.message}${error.code ? ` (${error.code})` : ''}.`);
    return null;
  }
}

const siblingPhrase = (n) => (n === 1 ? '1 sibling hash leads' : `${n} sibling hashes lead`);

function merkleSteps(steps, proof, header) {
  const counted = proof.count === header.txCount;
  steps.add('proof_count', counted,
    counted
      ? `The proof is for a tree of ${proof.count} leaves, the header's tx_count.`
      : `The proof says the block has ${proof.count} transactions, the header says ${header.txCount} (bad_proof).`);
  const path = wire.verifyMerklePath(proof.txHash, proof.index, proof.count, proof.siblings, header.txRoot);
  const txHex = bytesToHex(proof.txHash);
  steps.add('merkle_proof', path.ok,
    path.ok
      ? `From transaction ${txHex} at position ${proof.index} of ${proof.count}, ${siblingPhrase(proof.siblings.length)} to tx_root ${bytesToHex(header.txRoot)}.`
      : `From transaction ${txHex} at position ${proof.index} of ${proof.count}: ${path.reason} (bad_proof).`);
}

function txHashStep(steps, txHex, claimed, trust) {
  let bytes;
  try {
    bytes = wire.hexToBytes(txHex, 'the transaction hex');
  } catch (error) {
    return steps.add('tx_hash', false, `${error.message}.`);
  }
  const computed = wire.txHash(bytes);
  const problems = [];
  if (!claimed || !equalBytes(computed, claimed)) problems.push(`its bytes hash to ${bytesToHex(computed)}, not to the receipt's tx_hash`);
  if (bytes.length > wire.TX_BYTES_MAX) problems.push(`it is ${bytes.length} bytes, more than ${wire.TX_BYTES_MAX}`);
  if (bytes.length >= 33 && bytesToHex(bytes.subarray(1, 33)) !== trust?.genesisHash) problems.push('it names another genesis');
  return steps.add('tx_hash', problems.length === 0,
    problems.length === 0
      ? `SHA-256 of the transaction's ${bytes.length} bytes is ${bytesToHex(computed)}, the receipt's tx_hash.`
      : `The transaction does not match: ${problems.join('; ')}.`);
}

const RECEIPT_LATER = ['genesis', 'sequencer', 'signature', 'block_hash', 'shown_fields', 'proof_count', 'merkle_proof'];

/**
 * Checks a `GET /v1/receipts/{hash}` answer against `trust` (from loadTrust),
 * as Receipt::verify does. `options.txHex`: the transaction's bytes (the `hex`
 * of `GET /v1/transactions/{hash}`), whose hash must be tx_hash.
 */
export async function checkReceipt(receiptJson, trust, options = {}) {
  const steps = new Steps();
  trustStep(steps, trust);
  const header = decodeStep(steps, 'header',
    () => wire.decodeHeader(wire.hexToBytes(receiptJson?.header?.hex, 'header.hex')),
    (h) => `header.hex is the 253 bytes of ${describeHeader(h)}. Only these bytes are checked below, not the fields shown beside them.`);
  let proof = null;
  let proofError = null;
  try {
    proof = readReceiptProof(receiptJson);
  } catch (error) {
    proofError = error.message;
  }
  if (header) {
    headerSteps(steps, header, trust, { block_hash: receiptJson.block_hash, 'header.hash': receiptJson.header.hash });
    shownStep(steps, 'shown_fields', receiptFieldMismatches(receiptJson, header, proof), 'field');
  } else {
    RECEIPT_LATER.slice(0, 5).forEach((name) => steps.notRun(name, 'the header did not decode'));
  }
  if (header && proof) merkleSteps(steps, proof, header);
  else RECEIPT_LATER.slice(5).forEach((name) => steps.notRun(name, proofError ?? 'the header did not decode'));
  if (options.txHex !== undefined && options.txHex !== null) txHashStep(steps, options.txHex, proof?.txHash, trust);
  return steps.result(receiptSummary(steps, header, proof, trust));
}

function receiptFieldMismatches(json, header, proof) {
  const wrong = headerFieldMismatches(json.header, header, 'header.');
  if ('height' in json && !sameU64(json.height, header.height)) wrong.push('height');
  if ('index' in json && proof && json.index !== proof.index) wrong.push('index');
  return wrong;
}

function receiptSummary(steps, header, proof, trust) {
  const tx = proof ? shortHash(bytesToHex(proof.txHash)) : 'this transaction';
  if (!steps.ok) return failedSummary(`This receipt does not prove that ${tx} is in a block`, steps, trust);
  return `Transaction ${tx} is in block ${header.height} (position ${proof.index} of ${proof.count}). ${trustedAgainst(trust, header)}`;
}

// ---- Account state answers (docs/wire.md §15.4–15.6) ----

function accountToCheck(accountJson, options) {
  const text = options.account ?? accountJson?.hex ?? accountJson?.id;
  const id = parseAccountId(text);
  if (!id) throw new Error(`${JSON.stringify(text ?? null)} is not a did:key or 64 hex digits`);
  return id;
}

function freshStep(steps, header, trust) {
  const seen = trust?.heightSeen ?? 0n;
  const fresh = header.height >= seen;
  const newest = seen === 0n
    ? `This page has checked no state of this genesis before, so block ${header.height} is the newest it knows.`
    : `Block ${header.height} is not below block ${seen}, the highest this page has checked.`;
  return steps.add('fresh', fresh,
    fresh
      ? newest
      : `Block ${header.height} is below block ${seen}, which this page has already checked: an old state (stale_state).`);
}

function stateProofStep(steps, answer, id) {
  const key = wire.accountKey(id);
  const verdict = wire.verifyStateProof(answer.proof, key, answer.header.stateRoot);
  if (!verdict.ok) return { ok: steps.add('state_proof', false, `${verdict.reason} (${verdict.code}).`) };
  const holds = verdict.value ? `holds value ${bytesToHex(verdict.value)}` : 'holds nothing';
  steps.add('state_proof', true,
    `The account's key ${bytesToHex(key)} ${holds}: bucket ${answer.proof.bucket} with its ${answer.proof.entries.length} ` +
      `entr${answer.proof.entries.length === 1 ? 'y' : 'ies'} and 16 siblings hash up to state_root ${bytesToHex(answer.header.stateRoot)}.`);
  return verdict;
}

function recordMatchStep(steps, committed, record) {
  if (committed === null && record === null) {
    return steps.add('record_matches', true, 'The proof shows the account holds no record, and none came with it: no money, next nonce 0.');
  }
  if (committed === null) return steps.add('record_matches', false, 'The proof shows the account holds nothing, yet a record came with it (proof_record_mismatch).');
  if (record === null) return steps.add('record_matches', false, 'The proof shows the account holds a record, and none came with it (proof_record_mismatch).');
  const value = wire.accountValueHash(record);
  const same = equalBytes(value, committed);
  return steps.add('record_matches', same,
    same
      ? `The record's ${record.length} bytes hash to ${bytesToHex(value)}, the value the proof commits to.`
      : `The record hashes to ${bytesToHex(value)}, not to the committed ${bytesToHex(committed)} (proof_record_mismatch).`);
}

function describeRecord(r) {
  const device = r.device ? `, a device of ${short(keyToDid(r.device.owner))}${r.device.frozen ? ' (frozen)' : ''}` : '';
  const key = r.messagingKey ? ', with a messaging key' : '';
  return `balance ${r.balance} base units, next nonce ${r.nonce}${device}${key}`;
}

const ABSENT_RECORD = { balance: 0n, nonce: 0n, device: null, messagingKey: null };

function deviceMismatches(shown, device, timestamp) {
  if (device === null) return shown === null || shown === undefined ? [] : ['device'];
  if (!shown || typeof shown !== 'object') return ['device'];
  const spentToday = device.spentDay === timestamp / wire.DAY_MS ? device.spent : 0n;
  const checks = {
    'device.owner': sameKey(shown.owner, device.owner),
    'device.per_day': device.perDay === null ? shown.per_day === null : sameU64(shown.per_day, device.perDay),
    'device.spent_today': sameU64(shown.spent_today, spentToday),
    'device.frozen': shown.frozen === device.frozen,
    'device.metadata_hex': String(shown.metadata_hex).toLowerCase() === bytesToHex(device.metadata),
  };
  return Object.keys(checks).filter((field) => !checks[field]);
}

function accountValueMismatches(json, answer, record, id) {
  const wrong = [];
  if ('hex' in json && !sameKey(json.hex, id)) wrong.push('hex');
  if ('id' in json && !sameKey(json.id, id)) wrong.push('id');
  if ('height' in json && !sameU64(json.height, answer.header.height)) wrong.push('height');
  if (!sameU64(json.balance, record.balance)) wrong.push('balance');
  if (!sameU64(json.nonce, record.nonce)) wrong.push('nonce');
  wrong.push(...deviceMismatches(json.device, record.device, answer.header.timestamp));
  const key = record.messagingKey ? bytesToHex(record.messagingKey) : null;
  if ((json.messaging_key ?? null) !== key && String(json.messaging_key).toLowerCase() !== key) wrong.push('messaging_key');
  return wrong;
}

function proofFieldMismatches(proofJson, answer) {
  const wrong = headerFieldMismatches(proofJson.header, answer.header, 'proof.header.');
  const recordHex = answer.record ? bytesToHex(answer.record) : null;
  if ('record_hex' in proofJson && (proofJson.record_hex ?? null) !== recordHex) wrong.push('proof.record_hex');
  if (proofJson.header && 'hex' in proofJson.header && proofJson.header.hex !== bytesToHex(answer.header.bytes)) wrong.push('proof.header.hex');
  if ('height' in proofJson && !sameU64(proofJson.height, answer.header.height)) wrong.push('proof.height');
  if ('state_root' in proofJson && proofJson.state_root !== bytesToHex(answer.header.stateRoot)) wrong.push('proof.state_root');
  if ('bucket' in proofJson && proofJson.bucket !== answer.proof.bucket) wrong.push('proof.bucket');
  return wrong;
}

const ACCOUNT_LATER = ['genesis', 'sequencer', 'signature', 'block_hash', 'fresh', 'state_proof', 'record_matches', 'record_decodes', 'shown_values'];

/**
 * Checks a `GET /v1/accounts/{id}?proof=true` answer against `trust`, as
 * StateAnswer::verify_account does, then that the balance, nonce, device and
 * messaging key shown are the record's. `options.account`: the id the page
 * asked about (did:key or hex); by default the answer's own `hex`.
 */
export async function checkAccountProof(accountJson, trust, options = {}) {
  const steps = new Steps();
  trustStep(steps, trust);
  const id = decodeStep(steps, 'account', () => accountToCheck(accountJson, options),
    (key) => `The answer is checked for ${keyToDid(key)} (${bytesToHex(key)}), whose key in the state map is SHA-256("ting:state-key:account:v1" || id).`);
  const answer = decodeStep(steps, 'answer',
    () => wire.decodeStateAnswer(wire.hexToBytes(accountJson?.proof?.hex, 'proof.hex')),
    (a) => `proof.hex holds the header of ${describeHeader(a.header)}, ${a.record ? `a record of ${a.record.length} bytes` : 'no record'} and a proof of bucket ${a.proof.bucket}. Only these bytes are checked below.`);
  if (!id || !answer) {
    ACCOUNT_LATER.forEach((name) => steps.notRun(name, answer ? 'the account id is not readable' : 'the answer did not decode (ask with ?proof=true)'));
    return steps.result(failedSummary('This answer proves nothing', steps, trust));
  }
  headerSteps(steps, answer.header, trust, { 'proof.header.hash': accountJson.proof.header?.hash });
  freshStep(steps, answer.header, trust);
  const verdict = stateProofStep(steps, answer, id);
  const record = accountRecordSteps(steps, verdict, answer.record);
  if (record) {
    const wrong = [...accountValueMismatches(accountJson, answer, record, id), ...proofFieldMismatches(accountJson.proof, answer)];
    shownStep(steps, 'shown_values', wrong, 'value');
  } else {
    steps.notRun('shown_values', 'the record did not decode');
  }
  if (steps.ok) raiseHeightSeen(trust, answer.header.height);
  return steps.result(accountSummary(steps, id, answer, record, trust));
}

/** Steps 6 and 7 of §15.6; the record the page may show, or null. */
function accountRecordSteps(steps, verdict, record) {
  if (verdict.ok) recordMatchStep(steps, verdict.value, record);
  else steps.notRun('record_matches', 'the state proof does not hold');
  if (record === null) {
    steps.add('record_decodes', true, 'There is no record to decode: the account holds nothing.');
    return ABSENT_RECORD;
  }
  return decodeStep(steps, 'record_decodes', () => wire.decodeAccountRecord(record),
    (r) => `The account record reads: ${describeRecord(r)}.`);
}

function accountSummary(steps, id, answer, record, trust) {
  const who = short(keyToDid(id));
  if (!steps.ok) return failedSummary(`This answer does not prove what ${who} holds`, steps, trust);
  const at = `at block ${answer.header.height}`;
  const holds = answer.record === null
    ? `${who} has no record ${at} (no money, next nonce 0).`
    : `${who} holds ${record.balance} base units with next nonce ${record.nonce} ${at}.`;
  return `${holds} ${trustedAgainst(trust, answer.header)}`;
}

// ---- The page ----

/** Writes a check's result into a page section: data-result, a summary and one item per step. */
export function renderCheck(section, result) {
  const doc = section.ownerDocument;
  section.setAttribute('data-result', result.error ? 'error' : result.ok ? 'valid' : 'invalid');
  for (const child of Array.from(section.children)) {
    if (child.getAttribute('data-check-part') !== null) child.remove();
  }
  const summary = doc.createElement('p');
  summary.setAttribute('data-check-part', 'summary');
  summary.textContent = result.summary;
  const list = doc.createElement('ol');
  list.setAttribute('data-check-part', 'steps');
  for (const step of result.steps) {
    const item = doc.createElement('li');
    item.setAttribute('data-step', step.name);
    item.setAttribute('data-ok', String(step.ok));
    item.textContent = `${step.ok ? '✓' : '✗'} ${step.title}: ${step.detail}`;
    list.append(item);
  }
  section.append(summary, list);
}

async function checkReceiptSection(section, trust, fetchFn) {
  const tx = encodeURIComponent(section.getAttribute('data-tx'));
  const receipt = await fetchJson(fetchFn, `/v1/receipts/${tx}`);
  const transaction = await fetchJson(fetchFn, `/v1/transactions/${tx}`).catch(() => null);
  return checkReceipt(receipt, trust, { txHex: transaction?.hex });
}

async function checkStateSection(section, trust, fetchFn) {
  const account = section.getAttribute('data-account');
  const answer = await fetchJson(fetchFn, `/v1/accounts/${encodeURIComponent(account)}?proof=true`);
  return checkAccountProof(answer, trust, { account });
}

/** A pasted receipt: the receipt itself, or a whole `GET /v1/transactions/{hash}` answer. */
async function checkPasted(text, trust) {
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    return errorResult('the pasted text is not JSON');
  }
  if (json && typeof json === 'object' && json.receipt) return checkReceipt(json.receipt, trust, { txHex: json.hex });
  return checkReceipt(json, trust);
}

async function renderInto(section, work) {
  let result;
  try {
    result = await work();
  } catch (error) {
    result = errorResult(error.message);
  }
  renderCheck(section, result);
}

async function runPage(doc, fetchFn) {
  let trust = null;
  const getTrust = () => (trust ??= loadTrust(fetchFn).catch((error) => {
    trust = null; // the next check asks again
    throw error;
  }));
  const jobs = [];
  for (const section of doc.querySelectorAll('section#receipt-check[data-tx]')) {
    jobs.push(renderInto(section, async () => checkReceiptSection(section, await getTrust(), fetchFn)));
  }
  for (const section of doc.querySelectorAll('section#state-check[data-account]')) {
    jobs.push(renderInto(section, async () => checkStateSection(section, await getTrust(), fetchFn)));
  }
  const input = doc.querySelector('textarea#receipt-input');
  const button = doc.querySelector('button#receipt-check-button');
  const target = doc.querySelector('section#receipt-check');
  if (input && button && target) {
    button.addEventListener('click', () => renderInto(target, async () => checkPasted(input.value, await getTrust())));
  }
  wirePinForm(doc);
  await Promise.all(jobs);
}

/** The /verify page's genesis pin: shows the pin in force, pins a hash given by hand, forgets it. */
function wirePinForm(doc) {
  const input = doc.querySelector('input#genesis-pin');
  const pin = doc.querySelector('button#genesis-pin-button');
  const forget = doc.querySelector('button#genesis-forget-button');
  const shown = doc.querySelector('code#genesis-pinned');
  if (!input || !pin || !forget || !shown) return;
  const show = () => {
    let stored = null;
    try {
      stored = globalThis.localStorage?.getItem('ting.genesis') ?? null;
    } catch {
      stored = null;
    }
    shown.textContent = stored ? `${stored} (${pinPhrase(globalThis.localStorage.getItem('ting.genesis.how'))})` : 'none yet: the next check pins what the node serves';
    shown.dataset.pinned = stored ?? '';
  };
  pin.addEventListener('click', () => {
    try {
      pinGenesis(input.value);
      show();
    } catch (error) {
      shown.textContent = error.message;
    }
  });
  forget.addEventListener('click', () => {
    forgetGenesis();
    show();
  });
  show();
}

/** Checks every section the page marks, once the document is parsed. */
export function autoRun(doc = globalThis.document, fetchFn = globalThis.fetch) {
  if (!doc) return Promise.resolve();
  if (doc.readyState !== 'loading') return runPage(doc, fetchFn);
  return new Promise((resolve) => {
    doc.addEventListener('DOMContentLoaded', () => resolve(runPage(doc, fetchFn)), { once: true });
  });
}

if (typeof window !== 'undefined') {
  window.tingVerify = {
    verifyEd25519, loadTrust, trustFromGenesis, pinGenesis, forgetGenesis, checkReceipt, checkAccountProof, renderCheck, errorResult, autoRun,
  };
  autoRun();
}

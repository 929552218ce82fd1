// Trust on first use of a node's genesis, for the in-page verifier
// (verify.js). The page fetches `GET /v1/genesis`, computes the genesis hash
// and reads the sequencer keys from the genesis bytes alone (docs/wire.md §8),
// and pins that hash in localStorage the first time it sees this origin. A
// node that later serves another genesis is not trusted until someone pins
// the new one by hand. The highest block height a state answer was checked at
// is kept beside the pin (§15.6 step 4).

import * as wire from './ting-wire.js';

const { bytesToHex, keyToDid } = wire;

/** localStorage keys: the pinned genesis hash, how it was pinned, the highest height checked. */
const PIN_KEY = 'ting.genesis';
const PIN_HOW_KEY = 'ting.genesis.how';
const HEIGHT_KEY = 'ting.height_seen';

/** A pin made with pinGenesis, kept in memory too for pages without storage. */
let handPin = null;

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // a browser that forbids storage to this page throws on access
  }
}

/** Pins a genesis hash by hand; later loads trust only this genesis. */
export function pinGenesis(hashHex) {
  const hash = String(hashHex).trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error('a genesis hash is 64 hex digits');
  handPin = hash;
  const store = storage();
  store?.setItem(PIN_KEY, hash);
  store?.setItem(PIN_HOW_KEY, 'by-hand');
  return hash;
}

/** Forgets the pinned genesis (and the height seen): the next load pins what it is served. */
export function forgetGenesis() {
  handPin = null;
  const store = storage();
  for (const key of [PIN_KEY, PIN_HOW_KEY, HEIGHT_KEY]) store?.removeItem(key);
}

/** GETs `url` and reads its JSON; a refusal or anything but JSON is an error. */
export async function fetchJson(fetchFn, url) {
  const response = await fetchFn(url, { headers: { accept: 'application/json' } });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new Error(`${url} answered ${body?.error?.message ?? `HTTP ${response.status}`}`);
  }
  if (body === null || typeof body !== 'object') throw new Error(`${url} did not answer JSON`);
  return body;
}

/**
 * Fetches `GET /v1/genesis` and returns what every check is made against:
 * `{genesisHash, sequencers, pinned, pinnedHow, trusted, warning?, ...}`.
 */
export async function loadTrust(fetchFn = fetch) {
  return trustFromGenesis(await fetchJson(fetchFn, '/v1/genesis'));
}

/** The trust a `GET /v1/genesis` answer gives, from its `hex` alone (docs/wire.md §8). */
export function trustFromGenesis(answer) {
  const bytes = wire.hexToBytes(answer?.hex, 'the genesis hex');
  const genesis = wire.decodeGenesis(bytes);
  const genesisHash = bytesToHex(wire.genesisHash(bytes));
  const trust = {
    genesisHash,
    sequencers: genesis.sequencers,
    name: genesis.name,
    network: genesis.network,
    pinned: false,
    pinnedHow: null,
    trusted: true,
    heightSeen: 0n,
  };
  const problems = answerProblems(answer, genesisHash, genesis);
  problems.push(...applyPin(trust));
  if (problems.length > 0) {
    trust.trusted = false;
    trust.warning = problems.join(' ');
  }
  trust.heightSeen = storedHeight(genesisHash);
  return trust;
}

/** Where the fields the node shows beside the bytes disagree with them. */
function answerProblems(answer, genesisHash, genesis) {
  const problems = [];
  if (typeof answer.hash === 'string' && answer.hash.toLowerCase() !== genesisHash) {
    problems.push(`The node says its genesis hash is ${answer.hash}, but the genesis bytes it sent hash to ${genesisHash}.`);
  }
  const shown = Array.isArray(answer.sequencers) ? answer.sequencers : null;
  const decoded = genesis.sequencers.map(keyToDid);
  if (shown && shown.join(',') !== decoded.join(',')) {
    problems.push(`The node lists sequencers ${shown.join(', ')}, but its genesis bytes name ${decoded.join(', ')}.`);
  }
  return problems;
}

/** Trust on first use: pin the first genesis seen, and refuse any other later. */
function applyPin(trust) {
  const store = storage();
  const pinned = handPin ?? store?.getItem(PIN_KEY) ?? null;
  const how = handPin ? 'by-hand' : (store?.getItem(PIN_HOW_KEY) ?? 'first-visit');
  if (pinned === null) {
    if (!store) return [];
    store.setItem(PIN_KEY, trust.genesisHash);
    store.setItem(PIN_HOW_KEY, 'first-visit');
    Object.assign(trust, { pinned: true, pinnedHow: 'first-visit' });
    return [];
  }
  Object.assign(trust, { pinned: true, pinnedHow: how, pinnedHash: pinned });
  if (pinned === trust.genesisHash) return [];
  return [
    `This node now serves genesis ${trust.genesisHash}, but this browser has genesis ${pinned} ${pinPhrase(how)}. ` +
      'Nothing it serves is trusted here. If you know the network was started anew, pin the new genesis by hand ' +
      `(tingVerify.pinGenesis('${trust.genesisHash}') in the console).`,
  ];
}

export function pinPhrase(how) {
  if (how === 'by-hand') return 'pinned by hand';
  if (how === 'first-visit') return 'pinned on first visit';
  return 'not pinned: this page has no storage, so the genesis is taken as served';
}

function storedHeight(genesisHash) {
  try {
    const seen = JSON.parse(storage()?.getItem(HEIGHT_KEY) ?? 'null');
    return seen?.genesis === genesisHash ? BigInt(seen.height) : 0n;
  } catch {
    return 0n;
  }
}

/** §15.6 step 4: after an answer passes, the client never goes below its height. */
export function raiseHeightSeen(trust, height) {
  if (height <= (trust.heightSeen ?? 0n)) return;
  trust.heightSeen = height;
  const seen = JSON.stringify({ genesis: trust.genesisHash, height: height.toString() });
  storage()?.setItem(HEIGHT_KEY, seen);
}

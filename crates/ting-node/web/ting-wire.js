// Ting's wire format for the in-page verifier (verify.js): hex and did:key
// text, a strict byte reader, the decoders of the objects a page checks (block
// header, genesis, state answer, account record), the Merkle and state-map
// proofs, and the one Ed25519 rule (ZIP-215). Everything follows docs/wire.md
// section by section, and nothing here touches the page or the network.
//
// Hashing and signatures come from the vendored @noble packages (see
// vendor/VENDORED.md). SHA-512 is set as noble-ed25519's synchronous hash, so
// checking never needs crypto.subtle, which browsers withhold from pages
// served over plain http.

import { sha256, sha512 } from './vendor/noble-hashes-2.4.0/sha2.js';
import * as ed from './vendor/noble-ed25519-3.2.0/index.js';

ed.hashes.sha512 = sha512;

// ---- Limits and prefixes (docs/wire.md §1, §4, §7, §8, §9, §15) ----

export const HEADER_BYTES = 253;
export const UNSIGNED_HEADER_BYTES = 189;
export const TX_BYTES_MAX = 1024;
export const MERKLE_PROOF_DEPTH_MAX = 32;
export const STATE_PROOF_ENTRIES_MAX = 4096;
export const STATE_PROOF_DEPTH = 16;
export const STATE_RECORD_BYTES_MAX = 3632;
export const METADATA_BYTES_MAX = 256;
export const DAY_MS = 86400000n;
const GENESIS_NAME_BYTES_MAX = 64;
const GENESIS_KEYS_MAX = 64;
const GENESIS_ALLOCATIONS_MAX = 1000000;
const CLOCK_SPEED_MIN = 2;
const CLOCK_SPEED_MAX = 10000;

const ascii = (text) => new TextEncoder().encode(text);
export const BLOCK_DOMAIN = ascii('ting:block:v2');
export const GENESIS_DOMAIN = ascii('ting:genesis:v1');
const STATE_BUCKET_DOMAIN = ascii('ting:state-bucket:v1');
const STATE_NODE_DOMAIN = ascii('ting:state-node:v1');
const ACCOUNT_KEY_DOMAIN = ascii('ting:state-key:account:v1');
const ACCOUNT_VALUE_DOMAIN = ascii('ting:state-value:account:v1');

/** A decoding failure, with ting-core's code (`truncated`, `trailing_bytes`, ...). */
export class WireError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// ---- Bytes, hex and hashes ----

export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Hex to bytes, refusing anything but an even number of hex digits. */
export function hexToBytes(text, what = 'hex') {
  if (typeof text !== 'string' || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new WireError('bad_hex', `${what} is not an even number of hex digits`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** SHA-256 of the parts' concatenation (docs/wire.md §1, "Hashes"). */
export function hash(...parts) {
  return sha256(concatBytes(...parts));
}

// ---- Account ids in text (docs/wire.md §2.1) ----

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const DID_KEY_PREFIX = 'did:key:z';
const ED25519_MULTICODEC = Uint8Array.of(0xed, 0x01);

function base58Encode(bytes) {
  const digits = [];
  for (const byte of bytes) {
    let carry = byte;
    for (let i = 0; i < digits.length; i++) {
      carry += digits[i] << 8;
      digits[i] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    for (; carry > 0; carry = Math.floor(carry / 58)) digits.push(carry % 58);
  }
  const zeros = bytes.findIndex((b) => b !== 0);
  const leading = '1'.repeat(zeros === -1 ? bytes.length : zeros);
  return leading + digits.reverse().map((d) => BASE58[d]).join('');
}

function base58Decode(text) {
  const bytes = [];
  for (const char of text) {
    let carry = BASE58.indexOf(char);
    if (carry < 0) return null;
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i] * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    for (; carry > 0; carry >>= 8) bytes.push(carry & 0xff);
  }
  const ones = text.length - text.replace(/^1+/, '').length;
  return Uint8Array.from([...new Array(ones).fill(0), ...bytes.reverse()]);
}

/** The `did:key` form of a 32-byte key. */
export function keyToDid(key) {
  return DID_KEY_PREFIX + base58Encode(concatBytes(ED25519_MULTICODEC, key));
}

/** A `did:key` or 64 hex digits to the 32 key bytes; null if it is neither. */
export function parseAccountId(text) {
  if (typeof text !== 'string') return null;
  const trimmed = text.trim();
  if (trimmed.startsWith(DID_KEY_PREFIX)) {
    const bytes = base58Decode(trimmed.slice(DID_KEY_PREFIX.length));
    const ed25519 = bytes && bytes.length === 34 && bytes[0] === 0xed && bytes[1] === 0x01;
    return ed25519 ? bytes.slice(2) : null;
  }
  return /^[0-9a-fA-F]{64}$/.test(trimmed) ? hexToBytes(trimmed) : null;
}

// ---- Strict decoding (docs/wire.md §1, "Strict decoding") ----

/** Reads fixed-width little-endian fields front to back; refuses short or long input. */
export class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.at = 0;
  }

  take(length, what) {
    if (length > this.bytes.length - this.at) {
      throw new WireError('truncated', `the bytes end inside ${what}`);
    }
    const out = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  uint(width, what) {
    const bytes = this.take(width, what);
    let value = 0n;
    for (let i = width - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
    return value;
  }

  u8(what) { return Number(this.uint(1, what)); }
  u16(what) { return Number(this.uint(2, what)); }
  u32(what) { return Number(this.uint(4, what)); }
  u64(what) { return this.uint(8, what); }

  /** A `u8` that must be 0 or 1. */
  flag(what) {
    const value = this.u8(what);
    if (value > 1) throw new WireError('invalid_value', `${what} is ${value}, not 0 or 1`);
    return value === 1;
  }

  /** A count or length, refused above its limit before anything is read. */
  limited(value, max, what) {
    if (value > max) throw new WireError('too_long', `${what} is ${value}, more than ${max}`);
    return value;
  }

  finish(what) {
    const left = this.bytes.length - this.at;
    if (left !== 0) throw new WireError('trailing_bytes', `${left} bytes follow the ${what}`);
  }
}

// ---- Block headers (docs/wire.md §7.1, §7.2) ----

function readHeader(r) {
  const start = r.at;
  const version = r.u8('block version');
  if (version !== 2) throw new WireError('unsupported_version', `block version ${version}, not 2`);
  const header = {
    genesis: r.take(32, 'genesis'),
    height: r.u64('height'),
    epoch: r.u64('epoch'),
    prevHash: r.take(32, 'prev_hash'),
    timestamp: r.u64('timestamp'),
    txRoot: r.take(32, 'tx_root'),
    txCount: r.u32('tx_count'),
    stateRoot: r.take(32, 'state_root'),
    sequencer: r.take(32, 'sequencer'),
    signature: r.take(64, 'signature'),
  };
  header.bytes = r.bytes.subarray(start, r.at);
  header.unsigned = header.bytes.subarray(0, UNSIGNED_HEADER_BYTES);
  return header;
}

/** Exactly the 253 bytes of a signed header. */
export function decodeHeader(bytes) {
  const r = new Reader(bytes);
  const header = readHeader(r);
  r.finish('block header');
  return header;
}

/** `"ting:block:v2" || unsigned header`: what the sequencer signs. */
export function blockSigningMessage(header) {
  return concatBytes(BLOCK_DOMAIN, header.unsigned);
}

export function blockHash(header) {
  return hash(blockSigningMessage(header));
}

// ---- The genesis (docs/wire.md §8) ----

function readKeys(r, what) {
  const count = r.limited(r.u16(`${what} count`), GENESIS_KEYS_MAX, `${what} count`);
  return Array.from({ length: count }, () => r.take(32, what));
}

function readClock(r) {
  if (r.u8('clock') !== 1) throw new WireError('invalid_value', 'the clock byte is not 1');
  const speed = r.u32('clock speed');
  if (speed < CLOCK_SPEED_MIN || speed > CLOCK_SPEED_MAX) {
    throw new WireError('invalid_value', `clock speed ${speed} is outside 2 to 10,000`);
  }
  return speed;
}

/** The genesis encoding, strictly; the allocations are counted and skipped. */
export function decodeGenesis(bytes) {
  const r = new Reader(bytes);
  const version = r.u8('genesis version');
  if (version !== 1 && version !== 2) {
    throw new WireError('unsupported_version', `genesis version ${version}, not 1 or 2`);
  }
  const network = r.u32('network');
  const timestamp = r.u64('timestamp');
  const nameBytes = r.take(r.limited(r.u8('name length'), GENESIS_NAME_BYTES_MAX, 'name length'), 'name');
  let name;
  try {
    name = new TextDecoder('utf-8', { fatal: true }).decode(nameBytes);
  } catch {
    throw new WireError('invalid_value', 'the name is not UTF-8');
  }
  const issuers = readKeys(r, 'issuer');
  const sequencers = readKeys(r, 'sequencer');
  const allocations = r.limited(r.u32('allocation count'), GENESIS_ALLOCATIONS_MAX, 'allocation count');
  r.take(40 * allocations, 'allocations');
  const clockSpeed = version === 2 ? readClock(r) : 1;
  r.finish('genesis');
  return { version, network, timestamp, name, issuers, sequencers, allocations, clockSpeed };
}

/** `SHA-256("ting:genesis:v1" || encoding)`. */
export function genesisHash(bytes) {
  return hash(GENESIS_DOMAIN, bytes);
}

// ---- Transactions (docs/wire.md §5.1, §5.5) ----

/** `SHA-256(body || signature)`: the whole signed encoding, no prefix. */
export function txHash(bytes) {
  return hash(bytes);
}

// ---- The Merkle tree of a block (docs/wire.md §9.3) ----

const leafHash = (txHash) => hash(Uint8Array.of(0), txHash);
const merkleNode = (left, right) => hash(Uint8Array.of(1), left, right);

/**
 * §9.3 step by step: `{ok: true}`, or `{ok: false, reason}`. `index` and
 * `count` are u32 numbers, `siblings` 32-byte arrays from the leaf up.
 */
export function verifyMerklePath(txHash, index, count, siblings, root) {
  if (index >= count) return { ok: false, reason: `index ${index} is not below count ${count}` };
  if (siblings.length > MERKLE_PROOF_DEPTH_MAX) {
    return { ok: false, reason: `${siblings.length} siblings, more than ${MERKLE_PROOF_DEPTH_MAX}` };
  }
  let h = leafHash(txHash);
  let at = index;
  let width = count;
  let used = 0;
  while (width > 1) {
    // The sibling's position, `at XOR 1`, without JavaScript's 32-bit `^`.
    const siblingAt = at % 2 === 0 ? at + 1 : at - 1;
    if (siblingAt < width) {
      if (used === siblings.length) {
        return { ok: false, reason: `${siblings.length} siblings are too few for position ${index} of ${count}` };
      }
      const sibling = siblings[used++];
      h = at % 2 === 1 ? merkleNode(sibling, h) : merkleNode(h, sibling);
    }
    at = Math.floor(at / 2);
    width = Math.floor(width / 2) + (width % 2);
  }
  if (used !== siblings.length) {
    return { ok: false, reason: `${siblings.length} siblings, but position ${index} of ${count} needs ${used}` };
  }
  if (!equalBytes(h, root)) return { ok: false, reason: `the path leads to ${bytesToHex(h)}, not to the root` };
  return { ok: true };
}

// ---- State answers and the state map (docs/wire.md §15) ----

function readStateProof(r) {
  const bucket = r.u32('proof bucket');
  const count = r.limited(r.u32('proof entry count'), STATE_PROOF_ENTRIES_MAX, 'proof entry count');
  const entries = Array.from({ length: count }, () => ({
    key: r.take(32, 'proof entry key'),
    value: r.take(32, 'proof entry value'),
  }));
  const depth = r.u8('proof sibling count');
  const siblings = Array.from({ length: depth }, () => r.take(32, 'proof sibling'));
  return { bucket, entries, siblings };
}

/** §15.5: `header | has_record (| record_len | record) | proof`, nothing after. */
export function decodeStateAnswer(bytes) {
  const r = new Reader(bytes);
  const header = readHeader(r);
  let record = null;
  if (r.flag('record flag')) {
    const length = r.limited(r.u16('record length'), STATE_RECORD_BYTES_MAX, 'record length');
    record = r.take(length, 'record');
  }
  const proof = readStateProof(r);
  r.finish('state answer');
  return { header, record, proof };
}

export function accountKey(id) {
  return hash(ACCOUNT_KEY_DOMAIN, id);
}

export function accountValueHash(record) {
  return hash(ACCOUNT_VALUE_DOMAIN, record);
}

export function bucketOf(key) {
  return key[0] * 256 + key[1];
}

function compareBytes(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

function bucketHash(entries) {
  const count = new Uint8Array(4);
  new DataView(count.buffer).setUint32(0, entries.length, true);
  return hash(STATE_BUCKET_DOMAIN, count, ...entries.flatMap((e) => [e.key, e.value]));
}

function proofFailure(code, reason) {
  return { ok: false, code, reason };
}

/**
 * §15.4 `verify(key, root)`: `{ok: true, value}` with the value hash the key
 * holds (null: it holds none), or `{ok: false, code, reason}`.
 */
export function verifyStateProof(proof, key, root) {
  const want = bucketOf(key);
  if (proof.bucket !== want) {
    return proofFailure('proof_wrong_bucket', `the proof is for bucket ${proof.bucket}, the key is in bucket ${want}`);
  }
  if (proof.siblings.length !== STATE_PROOF_DEPTH) {
    return proofFailure('proof_wrong_depth', `${proof.siblings.length} siblings, not ${STATE_PROOF_DEPTH}`);
  }
  if (proof.entries.length > STATE_PROOF_ENTRIES_MAX) {
    return proofFailure('proof_too_long', `${proof.entries.length} entries, more than ${STATE_PROOF_ENTRIES_MAX}`);
  }
  for (let i = 0; i < proof.entries.length; i++) {
    const sorted = i === 0 || compareBytes(proof.entries[i - 1].key, proof.entries[i].key) < 0;
    if (!sorted || bucketOf(proof.entries[i].key) !== want) {
      return proofFailure('proof_bad_entries', `entry ${i} is out of order or outside bucket ${want}`);
    }
  }
  let h = bucketHash(proof.entries);
  let at = want;
  for (const sibling of proof.siblings) {
    h = at % 2 === 0 ? hash(STATE_NODE_DOMAIN, h, sibling) : hash(STATE_NODE_DOMAIN, sibling, h);
    at = Math.floor(at / 2);
  }
  if (!equalBytes(h, root)) {
    return proofFailure('proof_wrong_root', `the bucket and siblings lead to ${bytesToHex(h)}, not to the state root`);
  }
  const entry = proof.entries.find((e) => equalBytes(e.key, key));
  return { ok: true, value: entry ? entry.value : null };
}

function readDevice(r) {
  const owner = r.take(32, 'owner');
  const metadataLength = r.limited(r.u16('metadata length'), METADATA_BYTES_MAX, 'metadata length');
  const metadata = r.take(metadataLength, 'metadata');
  const perDay = r.flag('limit flag') ? r.u64('limit') : null;
  const frozen = r.flag('frozen');
  const spentDay = r.u64('spent day');
  const spent = r.u64('spent');
  return { owner, metadata, perDay, frozen, spentDay, spent };
}

/** §15.2's account record, strictly. u64 values are BigInts. */
export function decodeAccountRecord(bytes) {
  const r = new Reader(bytes);
  const balance = r.u64('balance');
  const nonce = r.u64('nonce');
  const device = r.flag('device flag') ? readDevice(r) : null;
  const messagingKey = r.flag('messaging key flag') ? r.take(32, 'messaging key') : null;
  r.finish('account record');
  return { balance, nonce, device, messagingKey };
}

// ---- The signature rule (docs/wire.md §3.2) ----

/** l, the order of the base point. */
const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;

function scalarIsCanonical(sBytes) {
  let s = 0n;
  for (let i = sBytes.length - 1; i >= 0; i--) s = (s << 8n) | BigInt(sBytes[i]);
  return s < GROUP_ORDER;
}

/**
 * Ting's one rule (ZIP-215): S < l (rule 1); A and R decode, non-canonical
 * encodings and small orders allowed (2); k hashed over R and A as given
 * (3); the cofactored equation (4). noble-ed25519's `zip215: true` is this
 * rule (vendor/VENDORED.md says where in its source); rule 1 is also checked
 * here so that it does not rest on the library alone. Anything malformed is
 * false, never an exception.
 */
export function verifyEd25519(publicKey, message, signature) {
  const isBytes = (v, n) => v instanceof Uint8Array && (n === undefined || v.length === n);
  if (!isBytes(publicKey, 32) || !isBytes(message) || !isBytes(signature, 64)) return false;
  if (!scalarIsCanonical(signature.subarray(32))) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: true });
  } catch {
    return false;
  }
}

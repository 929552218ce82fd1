/*
 * A water purifier's firmware, against a running node: it pays a cartridge
 * vendor 5 for a delivery, opens a hash-chain channel to the vendor to pay
 * per litre, and pays 3 litres, which the vendor's side takes once it has
 * read the channel from the ledger, proved. Each transaction goes to the
 * node over plain HTTP as its raw bytes; the node's answer carries the
 * receipt, which the purifier checks itself against the network's genesis
 * and sequencer before it counts the transaction done.
 *
 *   cc -std=c99 -o purifier examples/purifier.c -Iinclude target/debug/libting.a -lpthread -ldl -lm
 *   ./purifier account SEED_HEX                      its did:key, to fund it
 *   ./purifier run http://HOST:PORT SEED_HEX VENDOR_SEED_HEX
 *
 * It learns the network, its genesis hash and the sequencer's key from the
 * node's /v1/status (trust on first use, as a dev device does); deployed
 * firmware carries them in flash instead. docs/c.md's five-minute example
 * runs it, and crates/ting/tests/c_purifier.rs runs that example as written
 * against a dev node. The HTTP and JSON handling here is the least a device
 * needs, not a general client.
 */
#define _POSIX_C_SOURCE 200112L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ting.h"

#define ANSWER_MAX 16384

static int from_hex(const char *text, uint8_t *out, size_t len) {
    if (strlen(text) < 2 * len) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned int byte;
        if (sscanf(text + 2 * i, "%2x", &byte) != 1) {
            return -1;
        }
        out[i] = (uint8_t)byte;
    }
    return 0;
}

static void check(TingStatus status, const char *what) {
    if (status != TING_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", what, ting_status_name(status));
        exit(1);
    }
}

/* One HTTP/1.1 request (`body_out` bytes of body after the head, if any);
 * the answer, head and body, into `answer`. 0 on a 200. */
static int request(const char *host, int port, const char *head_fmt, const char *path,
                   const uint8_t *body_out, size_t len, char *answer, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (fd < 0 || inet_pton(AF_INET, host, &addr.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fprintf(stderr, "cannot reach the node at %s:%d\n", host, port);
        return -1;
    }
    char head[512];
    int n = snprintf(head, sizeof head, head_fmt, path, host, len);
    if (n < 0 || (size_t)n >= sizeof head || write(fd, head, (size_t)n) != n ||
        (len > 0 && write(fd, body_out, len) != (ssize_t)len)) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = read(fd, answer + got, cap - 1 - got)) > 0) {
        got += (size_t)r;
    }
    answer[got] = '\0';
    close(fd);
    if (strncmp(answer, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "the node answered: %.200s\n", answer);
        return -1;
    }
    return 0;
}

/* POSTs `tx` to /v1/transactions?wait=true; the answer into `body`. */
static int submit(const char *host, int port, const uint8_t *tx, size_t len, char *body, size_t cap) {
    return request(host, port,
                   "POST %s HTTP/1.1\r\nHost: %s\r\n"
                   "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   "/v1/transactions?wait=true", tx, len, body, cap);
}

/* GETs `path`; the answer into `body`. */
static int get(const char *host, int port, const char *path, char *body, size_t cap) {
    return request(host, port,
                   "GET %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   path, NULL, 0, body, cap);
}

/* The number after `"key":` at or after `from`. */
static unsigned long number_after(const char *from, const char *key) {
    const char *at = strstr(from, key);
    return at ? strtoul(at + strlen(key), NULL, 10) : 0;
}

/* The receipt in a commit's answer, as the bytes ting_receipt_check takes:
 * tx hash, header, index, count, siblings (docs/wire.md §10). */
static size_t receipt_bytes(const char *answer, const uint8_t tx_hash[32], uint8_t *out, size_t cap) {
    const char *receipt = strstr(answer, "\"receipt\":");
    const char *hex = receipt ? strstr(receipt, "\"hex\":\"") : NULL;
    const char *proof = receipt ? strstr(receipt, "\"proof\":") : NULL;
    if (hex == NULL || proof == NULL || cap < 32 + 253 + 9) {
        return 0;
    }
    memcpy(out, tx_hash, 32);
    if (from_hex(hex + 7, out + 32, 253)) {
        return 0;
    }
    unsigned long index = number_after(proof, "\"index\":");
    unsigned long count = number_after(proof, "\"count\":");
    size_t at = 32 + 253;
    for (int i = 0; i < 4; i++) {
        out[at++] = (uint8_t)(index >> (8 * i));
    }
    for (int i = 0; i < 4; i++) {
        out[at++] = (uint8_t)(count >> (8 * i));
    }
    size_t count_at = at++;
    uint8_t siblings = 0;
    const char *s = strstr(proof, "\"siblings\":[");
    if (s == NULL) {
        return 0;
    }
    s += 12;
    while (*s == '"') {
        if (at + 32 > cap || from_hex(s + 1, out + at, 32)) {
            return 0;
        }
        at += 32;
        siblings++;
        s += 1 + 64 + 1;
        if (*s == ',') {
            s++;
        }
    }
    out[count_at] = siblings;
    return at;
}

/* Sends a signed transaction, checks its receipt; the block's height. */
static uint64_t commit(const char *host, int port, const uint8_t *tx, size_t len,
                       const uint8_t genesis[32], const uint8_t sequencer[32]) {
    static char answer[ANSWER_MAX];
    if (submit(host, port, tx, len, answer, sizeof answer)) {
        exit(1);
    }
    uint8_t hash[32];
    check(ting_tx_hash(tx, len, hash), "hash");
    uint8_t receipt[32 + 253 + 9 + 32 * 32];
    size_t receipt_len = receipt_bytes(answer, hash, receipt, sizeof receipt);
    if (receipt_len == 0) {
        fprintf(stderr, "no receipt in the answer: %.300s\n", answer);
        exit(1);
    }
    uint8_t proved[32];
    uint64_t height = 0;
    check(ting_receipt_check(receipt, receipt_len, genesis, sequencer, 1, proved, &height), "receipt");
    if (memcmp(proved, hash, 32) != 0) {
        fprintf(stderr, "the receipt is for another transaction\n");
        exit(1);
    }
    return height;
}

/* GETs `path` (a read with `?proof=true`) and decodes its state answer into
 * `state`: the proof's own `hex`, the last one in the body (the header's
 * comes first). Its length. */
static size_t state_answer(const char *host, int port, const char *path, uint8_t *state,
                           size_t cap) {
    static char answer[ANSWER_MAX];
    if (get(host, port, path, answer, sizeof answer)) {
        exit(1);
    }
    const char *hex = NULL;
    for (const char *at = strstr(answer, "\"hex\":\""); at; at = strstr(at + 1, "\"hex\":\"")) {
        hex = at + 7;
    }
    size_t len = hex ? (size_t)(strchr(hex, '"') - hex) / 2 : 0;
    if (len == 0 || len > cap || from_hex(hex, state, len)) {
        fprintf(stderr, "no state answer in: %.300s\n", answer);
        exit(1);
    }
    return len;
}

/* "/v1/KIND/ID_HEX?proof=true" into `path`. */
static void proof_path(char *path, size_t cap, const char *kind, const uint8_t id[32]) {
    int n = snprintf(path, cap, "/v1/%s/", kind);
    for (int i = 0; i < 32 && n > 0 && (size_t)n + 3 < cap; i++) {
        n += snprintf(path + n, cap - (size_t)n, "%02x", id[i]);
    }
    snprintf(path + n, cap - (size_t)n, "?proof=true");
}

/* The purifier's own account, read from the ledger and checked. */
static void account_on_ledger(const char *host, int port, const uint8_t account[32],
                              const uint8_t genesis[32], const uint8_t sequencer[32],
                              TingAccount *out) {
    static uint8_t state[ANSWER_MAX / 2];
    char path[160];
    proof_path(path, sizeof path, "accounts", account);
    size_t len = state_answer(host, port, path, state, sizeof state);
    check(ting_account_check(state, len, account, genesis, sequencer, 1, 0, out), "account proof");
}

/* The vendor's side reads `channel` from the ledger and checks it. */
static void channel_on_ledger(const char *host, int port, const uint8_t channel[32],
                              const uint8_t genesis[32], const uint8_t sequencer[32],
                              TingChannel *out) {
    static uint8_t state[ANSWER_MAX / 2];
    char path[160];
    proof_path(path, sizeof path, "channels", channel);
    size_t len = state_answer(host, port, path, state, sizeof state);
    check(ting_channel_check(state, len, channel, genesis, sequencer, 1, 0, out), "channel proof");
}

/* The text of `"key":"..."` (quotes dropped) or `"key":N` in `json`, into `out`. */
static int json_field(const char *json, const char *key, char *out, size_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(json, pattern);
    if (at == NULL) {
        return -1;
    }
    at += strlen(pattern);
    if (*at == '"') {
        at++;
    }
    size_t n = strcspn(at, "\",}");
    if (n == 0 || n >= cap) {
        return -1;
    }
    memcpy(out, at, n);
    out[n] = '\0';
    return 0;
}

/* What the node says of its network: genesis hash, sequencer key, network id. */
static int network_of(const char *host, int port, uint8_t genesis[32], uint8_t sequencer[32],
                      uint32_t *network) {
    static char answer[ANSWER_MAX];
    char genesis_hex[65], sequencer_did[TING_DID_BYTES_MAX + 1], id[16];
    if (get(host, port, "/v1/status", answer, sizeof answer) ||
        json_field(answer, "genesis_hash", genesis_hex, sizeof genesis_hex) ||
        json_field(answer, "sequencer", sequencer_did, sizeof sequencer_did) ||
        json_field(answer, "network", id, sizeof id) || from_hex(genesis_hex, genesis, 32)) {
        fprintf(stderr, "no network in the node's status\n");
        return -1;
    }
    check(ting_account_parse(sequencer_did, sequencer), "the sequencer's key");
    *network = (uint32_t)strtoul(id, NULL, 10);
    return 0;
}

/* `http://HOST:PORT` (HOST an IPv4 address) into its parts. */
static int parse_url(const char *url, char *host, size_t cap, int *port) {
    const char *rest = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    const char *colon = rest ? strchr(rest, ':') : NULL;
    if (colon == NULL || (size_t)(colon - rest) >= cap) {
        return -1;
    }
    memcpy(host, rest, (size_t)(colon - rest));
    host[colon - rest] = '\0';
    *port = atoi(colon + 1);
    return *port > 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    uint8_t seed[32];
    if (argc == 3 && strcmp(argv[1], "account") == 0 && from_hex(argv[2], seed, 32) == 0) {
        uint8_t account[32];
        char did[TING_DID_BYTES_MAX + 1];
        check(ting_account_from_seed(seed, account), "account");
        check(ting_account_did(account, did, sizeof did, NULL), "did");
        printf("%s\n", did);
        return 0;
    }
    char host[64];
    int port = 0;
    uint8_t vendor_seed[32];
    if (argc != 5 || strcmp(argv[1], "run") != 0 || parse_url(argv[2], host, sizeof host, &port) ||
        from_hex(argv[3], seed, 32) || from_hex(argv[4], vendor_seed, 32)) {
        fprintf(stderr,
                "usage: %s account SEED_HEX\n"
                "       %s run http://HOST:PORT SEED_HEX VENDOR_SEED_HEX\n"
                "(seeds are 64 hex digits; HOST an IPv4 address)\n",
                argv[0], argv[0]);
        return 2;
    }
    uint8_t genesis[32], sequencer[32];
    uint32_t network = 0;
    if (network_of(host, port, genesis, sequencer, &network)) {
        return 1;
    }
    TingKey key, vendor;
    check(ting_key_from_seed(seed, &key), "key");
    check(ting_key_from_seed(vendor_seed, &vendor), "vendor's key");
    uint8_t me[32], vendor_account[32];
    check(ting_key_account(&key, me), "account");
    check(ting_key_account(&vendor, vendor_account), "vendor's account");
    uint64_t now_ms = (uint64_t)time(NULL) * 1000;
    uint64_t valid_until = now_ms + 600000;

    /* 0. Its own account, proved: the balance it has, the nonce its next
     * transaction carries. */
    TingAccount mine;
    account_on_ledger(host, port, me, genesis, sequencer, &mine);
    if (!mine.exists || mine.balance < 55) {
        fprintf(stderr, "the purifier's account holds %llu; it needs 55 (ting faucet)\n",
                (unsigned long long)mine.balance);
        return 1;
    }
    uint64_t nonce = mine.nonce;
    printf("balance %llu nonce %llu\n", (unsigned long long)mine.balance, (unsigned long long)nonce);

    /* 1. Pay the vendor 5 for the cartridge. */
    uint8_t tx[TING_TX_BYTES_MAX];
    size_t len = 0;
    const char *memo = "cartridge";
    check(ting_sign_transfer(&key, genesis, nonce, valid_until, vendor_account, 5, (const uint8_t *)memo,
                             strlen(memo), tx, sizeof tx, &len),
          "transfer");
    printf("transfer_committed %llu\n",
           (unsigned long long)commit(host, port, tx, len, genesis, sequencer));

    /* 2. Open a channel of 50 litres at 1 each, with the next nonce. */
    TingHashChain chain;
    memset(&chain, 0, sizeof chain);
    chain.network = network;
    check(ting_channel_id(genesis, me, nonce + 1, chain.channel), "channel id");
    memcpy(chain.payee, vendor_account, 32);
    chain.deposit = 50;
    chain.expires_at_ms = now_ms + 3600000;
    chain.price = 1;
    chain.chain_len = 50;
    uint8_t payer[TING_CHANNEL_STATE_BYTES_MAX];
    size_t payer_len = 0;
    check(ting_payer_open(&key, &chain, payer, sizeof payer, &payer_len), "payer");
    check(ting_sign_channel_open(&key, genesis, nonce + 1, valid_until, &chain, tx, sizeof tx, &len),
          "open");
    printf("channel_opened %llu\n", (unsigned long long)commit(host, port, tx, len, genesis, sequencer));
    printf("channel ");
    for (int i = 0; i < 32; i++) {
        printf("%02x", chain.channel[i]);
    }
    printf("\n");

    /* 3. The vendor's side takes the channel up only as the ledger proves it:
     * open, paying this vendor, with the deposit and price agreed. */
    TingChannel proved;
    channel_on_ledger(host, port, chain.channel, genesis, sequencer, &proved);
    if (!proved.exists || proved.closed || memcmp(proved.payee, vendor_account, 32) != 0 ||
        memcmp(proved.payer, me, 32) != 0 || !proved.hash_chain || proved.price != 1) {
        fprintf(stderr, "the ledger's channel is not the one agreed\n");
        return 1;
    }
    printf("channel_proved %llu %llu %llu\n", (unsigned long long)proved.height,
           (unsigned long long)proved.deposit, (unsigned long long)proved.claimed);

    /* 4. Three litres flowed: pay three ticks; the vendor's side takes them. */
    uint8_t vendor_state[TING_CHANNEL_STATE_BYTES_MAX];
    size_t vendor_len = 0;
    check(ting_payee_open(&chain, vendor_state, sizeof vendor_state, &vendor_len), "vendor");
    uint8_t payment[TING_PAYMENT_BYTES_MAX];
    size_t payment_len = 0;
    check(ting_payer_pay(payer, payer_len, 3, now_ms, payment, sizeof payment, &payment_len, payer,
                         sizeof payer, &payer_len),
          "pay");
    uint64_t newly = 0, total = 0;
    check(ting_payee_accept(vendor_state, vendor_len, payment, payment_len, now_ms, vendor_state,
                            sizeof vendor_state, &vendor_len, &newly, &total),
          "take");
    printf("litres_paid %llu %llu\n", (unsigned long long)newly, (unsigned long long)total);
    return 0;
}

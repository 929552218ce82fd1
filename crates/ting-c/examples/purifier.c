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
 *   ./purifier HOST PORT GENESIS_HEX SEQUENCER_HEX NETWORK SEED_HEX VENDOR_SEED_HEX
 *
 * crates/ting/tests/c_purifier.rs runs it against a dev node. The HTTP and
 * JSON handling here is the least a device needs, not a general client.
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

/* The vendor's side reads `channel` from the ledger with its proof
 * (GET /v1/channels/{id}?proof=true) and checks it: the state answer is the
 * proof's own `hex`, the last one in the body (the header's comes first). */
static void channel_on_ledger(const char *host, int port, const uint8_t channel[32],
                              const uint8_t genesis[32], const uint8_t sequencer[32],
                              TingChannel *out) {
    static char answer[ANSWER_MAX];
    static uint8_t state[ANSWER_MAX / 2];
    char path[128] = "/v1/channels/";
    for (int i = 0; i < 32; i++) {
        snprintf(path + strlen(path), 3, "%02x", channel[i]);
    }
    strcat(path, "?proof=true");
    if (get(host, port, path, answer, sizeof answer)) {
        exit(1);
    }
    const char *hex = NULL;
    for (const char *at = strstr(answer, "\"hex\":\""); at; at = strstr(at + 1, "\"hex\":\"")) {
        hex = at + 7;
    }
    size_t len = hex ? (size_t)(strchr(hex, '"') - hex) / 2 : 0;
    if (len == 0 || len > sizeof state || from_hex(hex, state, len)) {
        fprintf(stderr, "no state answer in: %.300s\n", answer);
        exit(1);
    }
    check(ting_channel_check(state, len, channel, genesis, sequencer, 1, 0, out), "channel proof");
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s HOST PORT GENESIS_HEX SEQUENCER_HEX NETWORK SEED_HEX VENDOR_SEED_HEX\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    uint8_t genesis[32], sequencer[32], seed[32], vendor_seed[32];
    if (from_hex(argv[3], genesis, 32) || from_hex(argv[4], sequencer, 32) ||
        from_hex(argv[6], seed, 32) || from_hex(argv[7], vendor_seed, 32)) {
        fprintf(stderr, "keys and hashes are 64 hex digits\n");
        return 2;
    }
    uint32_t network = (uint32_t)strtoul(argv[5], NULL, 10);
    TingKey key, vendor;
    check(ting_key_from_seed(seed, &key), "key");
    check(ting_key_from_seed(vendor_seed, &vendor), "vendor's key");
    uint8_t me[32], vendor_account[32];
    check(ting_key_account(&key, me), "account");
    check(ting_key_account(&vendor, vendor_account), "vendor's account");
    uint64_t now_ms = (uint64_t)time(NULL) * 1000;
    uint64_t valid_until = now_ms + 600000;

    /* 1. Pay the vendor 5 for the cartridge: transaction number 0. */
    uint8_t tx[TING_TX_BYTES_MAX];
    size_t len = 0;
    const char *memo = "cartridge";
    check(ting_sign_transfer(&key, genesis, 0, valid_until, vendor_account, 5, (const uint8_t *)memo,
                             strlen(memo), tx, sizeof tx, &len),
          "transfer");
    printf("transfer_committed %llu\n",
           (unsigned long long)commit(host, port, tx, len, genesis, sequencer));

    /* 2. Open a channel of 50 litres at 1 each: transaction number 1. */
    TingHashChain chain;
    memset(&chain, 0, sizeof chain);
    chain.network = network;
    check(ting_channel_id(genesis, me, 1, chain.channel), "channel id");
    memcpy(chain.payee, vendor_account, 32);
    chain.deposit = 50;
    chain.expires_at_ms = now_ms + 3600000;
    chain.price = 1;
    chain.chain_len = 50;
    uint8_t payer[TING_CHANNEL_STATE_BYTES_MAX];
    size_t payer_len = 0;
    check(ting_payer_open(&key, &chain, payer, sizeof payer, &payer_len), "payer");
    check(ting_sign_channel_open(&key, genesis, 1, valid_until, &chain, tx, sizeof tx, &len), "open");
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

/*
 * What a device's firmware does with libting, offline: its account from its
 * seed, a transfer signed into a buffer on the stack, the transaction's hash,
 * a voucher signed and checked, the broker login password, and a receipt
 * checked against the network's sequencer. Each result is printed as one
 * line, `name value`, for crates/ting-c/tests/c_example.rs to compare with
 * what the Rust library computes.
 *
 *   cc -o offline examples/offline.c -Iinclude target/debug/libting.a -lpthread -ldl -lm
 *   ./offline RECEIPT_HEX GENESIS_HEX SEQUENCER_HEX
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ting.h"

static void print_hex(const char *name, const uint8_t *bytes, size_t len) {
    printf("%s ", name);
    for (size_t i = 0; i < len; i++) {
        printf("%02x", bytes[i]);
    }
    printf("\n");
}

/* Reads `len` bytes of hex from `text`; 0 on success. */
static int from_hex(const char *text, uint8_t *out, size_t len) {
    if (strlen(text) != 2 * len) {
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

/* Stops with the status's name when a call did not succeed. */
static void check(TingStatus status, const char *what) {
    if (status != TING_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", what, ting_status_name(status));
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s RECEIPT_HEX GENESIS_HEX SEQUENCER_HEX\n", argv[0]);
        return 2;
    }
    uint8_t seed[32];
    memset(seed, 3, sizeof seed);
    uint8_t account[32];
    check(ting_account_from_seed(seed, account), "account");
    print_hex("account", account, sizeof account);

    char did[TING_DID_BYTES_MAX + 1];
    size_t did_len = 0;
    check(ting_account_did(account, did, sizeof did, &did_len), "did");
    printf("did %s\n", did);

    uint8_t genesis[32];
    uint8_t sequencer[32];
    if (from_hex(argv[2], genesis, sizeof genesis) || from_hex(argv[3], sequencer, sizeof sequencer)) {
        fprintf(stderr, "the genesis and the sequencer are 64 hex digits each\n");
        return 2;
    }

    /* A transfer of 250 to the account of seed 4, on the stack. */
    uint8_t to_seed[32];
    memset(to_seed, 4, sizeof to_seed);
    uint8_t to[32];
    check(ting_account_from_seed(to_seed, to), "recipient");
    uint8_t tx[TING_TX_BYTES_MAX];
    size_t tx_len = 0;
    const char *memo = "cartridge";
    check(ting_sign_transfer(seed, genesis, 5, 1800000000000ULL, to, 250, (const uint8_t *)memo,
                             strlen(memo), tx, sizeof tx, &tx_len),
          "transfer");
    print_hex("transfer", tx, tx_len);
    uint8_t tx_hash[32];
    check(ting_tx_hash(tx, tx_len, tx_hash), "hash");
    print_hex("tx_hash", tx_hash, sizeof tx_hash);

    /* Too small a buffer says so, and how much is needed. */
    uint8_t small[16];
    size_t needed = 0;
    TingStatus short_status = ting_sign_transfer(seed, genesis, 5, 1800000000000ULL, to, 250,
                                                 (const uint8_t *)memo, strlen(memo), small,
                                                 sizeof small, &needed);
    printf("short %s %zu\n", ting_status_name(short_status), needed);

    /* A voucher for 40 on channel 06..06 of network 7, and its check. */
    uint8_t channel[32];
    memset(channel, 6, sizeof channel);
    uint8_t voucher[TING_SIGNATURE_BYTES];
    check(ting_voucher_sign(seed, 7, channel, 40, voucher), "voucher");
    print_hex("voucher", voucher, sizeof voucher);
    printf("voucher_check %s\n", ting_status_name(ting_voucher_verify(account, 7, channel, 40, voucher)));
    printf("voucher_other_amount %s\n",
           ting_status_name(ting_voucher_verify(account, 7, channel, 41, voucher)));

    /* The broker password for client id = the account in hex. */
    char client_id[65];
    for (size_t i = 0; i < 32; i++) {
        sprintf(client_id + 2 * i, "%02x", account[i]);
    }
    uint8_t nonce[16];
    memset(nonce, 1, sizeof nonce);
    char password[TING_LOGIN_TOKEN_TEXT_BYTES + 1];
    check(ting_login_token(seed, genesis, client_id, 1700000000000ULL, nonce, password,
                           sizeof password, NULL),
          "login");
    printf("password %s\n", password);

    /* A receipt the test made: checked against the genesis and sequencer. */
    size_t receipt_len = strlen(argv[1]) / 2;
    uint8_t *receipt = malloc(receipt_len);
    if (receipt == NULL || from_hex(argv[1], receipt, receipt_len)) {
        fprintf(stderr, "the receipt is hex\n");
        return 2;
    }
    uint8_t receipt_tx[32];
    uint64_t height = 0;
    check(ting_receipt_check(receipt, receipt_len, genesis, sequencer, 1, receipt_tx, &height),
          "receipt");
    print_hex("receipt_tx", receipt_tx, sizeof receipt_tx);
    printf("receipt_height %llu\n", (unsigned long long)height);
    /* The header's timestamp changed (after the 32-byte transaction hash, at
     * offset 81 of the header): its signature no longer verifies. */
    receipt[32 + 81] ^= 1;
    printf("receipt_tampered %s\n",
           ting_status_name(ting_receipt_check(receipt, receipt_len, genesis, sequencer, 1, NULL, NULL)));
    free(receipt);
    printf("version %s\n", ting_version());
    return 0;
}

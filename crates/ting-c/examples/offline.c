/*
 * What a device's firmware does with libting, offline: its key and account
 * from its seed, a transfer signed into a buffer on the stack, its hash,
 * a voucher signed and checked, a hash-chain channel opened and three ticks
 * paid and taken (and taken only once), a reading signed and checked and a
 * private one sealed and opened, the broker login password, a receipt
 * checked against the network's sequencer, and its own account's balance and
 * nonce read from a state proof. Each result is printed as one
 * line, `name value`, for crates/ting/tests/c_example.rs to compare with
 * what the Rust library computes.
 *
 *   cc -o offline examples/offline.c -Iinclude target/debug/libting.a -lpthread -ldl -lm
 *   ./offline RECEIPT_HEX GENESIS_HEX SEQUENCER_HEX ACCOUNT_ANSWER_HEX
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
    if (argc != 5) {
        fprintf(stderr, "usage: %s RECEIPT_HEX GENESIS_HEX SEQUENCER_HEX ACCOUNT_ANSWER_HEX\n", argv[0]);
        return 2;
    }
    uint8_t seed[32];
    memset(seed, 3, sizeof seed);
    /* The key, made once from the seed (the public key is derived here, not
     * at every signature); it is as secret as the seed. */
    TingKey key;
    check(ting_key_from_seed(seed, &key), "key");
    uint8_t account[32];
    check(ting_key_account(&key, account), "account");
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
    check(ting_sign_transfer(&key, genesis, 5, 1800000000000ULL, to, 250, (const uint8_t *)memo,
                             strlen(memo), tx, sizeof tx, &tx_len),
          "transfer");
    print_hex("transfer", tx, tx_len);
    uint8_t tx_hash[32];
    check(ting_tx_hash(tx, tx_len, tx_hash), "hash");
    print_hex("tx_hash", tx_hash, sizeof tx_hash);

    /* Too small a buffer says so, and how much is needed. */
    uint8_t small[16];
    size_t needed = 0;
    TingStatus short_status = ting_sign_transfer(&key, genesis, 5, 1800000000000ULL, to, 250,
                                                 (const uint8_t *)memo, strlen(memo), small,
                                                 sizeof small, &needed);
    printf("short %s %zu\n", ting_status_name(short_status), needed);

    /* A voucher for 40 on channel 06..06 of network 7, and its check. */
    uint8_t channel[32];
    memset(channel, 6, sizeof channel);
    uint8_t voucher[TING_SIGNATURE_BYTES];
    check(ting_voucher_sign(&key, 7, channel, 40, voucher), "voucher");
    print_hex("voucher", voucher, sizeof voucher);
    printf("voucher_check %s\n", ting_status_name(ting_voucher_verify(account, 7, channel, 40, voucher)));
    printf("voucher_other_amount %s\n",
           ting_status_name(ting_voucher_verify(account, 7, channel, 41, voucher)));

    /* A hash-chain channel to the account of seed 4, opened by this key's
     * transaction number 6: 50 ticks of 10. Both sides keep their state as
     * bytes (in flash, on a device) and hand it back on the next call. */
    TingHashChain chain;
    memset(&chain, 0, sizeof chain);
    chain.network = 7;
    check(ting_channel_id(genesis, account, 6, chain.channel), "channel id");
    memcpy(chain.payee, to, sizeof to);
    chain.deposit = 1000;
    chain.expires_at_ms = 1800000000000ULL;
    chain.price = 10;
    chain.chain_len = 50;
    uint8_t payer_state[TING_CHANNEL_STATE_BYTES_MAX];
    size_t payer_len = 0;
    check(ting_payer_open(&key, &chain, payer_state, sizeof payer_state, &payer_len), "payer open");
    print_hex("channel", chain.channel, sizeof chain.channel);
    uint8_t open_tx[TING_TX_BYTES_MAX];
    size_t open_len = 0;
    check(ting_sign_channel_open(&key, genesis, 6, 1800000000000ULL, &chain, open_tx, sizeof open_tx,
                                 &open_len),
          "channel open");
    print_hex("channel_open", open_tx, open_len);
    uint8_t payee_state[TING_CHANNEL_STATE_BYTES_MAX];
    size_t payee_len = 0;
    check(ting_payee_open(&chain, payee_state, sizeof payee_state, &payee_len), "payee open");

    /* Three ticks paid, the state written back over itself, and taken. */
    uint8_t payment[TING_PAYMENT_BYTES_MAX];
    size_t payment_len = 0;
    const uint64_t now = 1700000000000ULL;
    check(ting_payer_pay(payer_state, payer_len, 3, now, payment, sizeof payment, &payment_len,
                         payer_state, sizeof payer_state, &payer_len),
          "pay");
    uint64_t newly = 0, total = 0;
    check(ting_payee_accept(payee_state, payee_len, payment, payment_len, now, payee_state,
                            sizeof payee_state, &payee_len, &newly, &total),
          "accept");
    printf("ticks_paid %llu %llu\n", (unsigned long long)newly, (unsigned long long)total);
    printf("ticks_replayed %s\n",
           ting_status_name(ting_payee_accept(payee_state, payee_len, payment, payment_len, now,
                                              payee_state, sizeof payee_state, &payee_len, NULL,
                                              NULL)));

    /* A reading to the account of seed 4, signed, checked as its receiver
     * would, and a private one sealed to that account's messaging key and
     * opened with its seed. */
    TingEnvelopeHeader header;
    memset(&header, 0, sizeof header);
    memcpy(header.genesis, genesis, sizeof genesis);
    memcpy(header.recipient, to, sizeof to);
    header.kind = 0x0100;
    header.id[0] = 1;
    header.timestamp_ms = now;
    const char *reading = "hardness 7.2";
    uint8_t envelope[512];
    size_t envelope_len = 0;
    check(ting_envelope_sign(&key, &header, (const uint8_t *)reading, strlen(reading), envelope,
                             sizeof envelope, &envelope_len),
          "envelope");
    TingEnvelopeHeader received;
    size_t offset = 0, length = 0;
    check(ting_envelope_check(envelope, envelope_len, &received, &offset, &length), "envelope check");
    print_hex("envelope_sender", received.sender, sizeof received.sender);
    printf("envelope_payload %.*s\n", (int)length, (const char *)(envelope + offset));
    envelope[offset] ^= 1;
    printf("envelope_changed %s\n",
           ting_status_name(ting_envelope_check(envelope, envelope_len, NULL, NULL, NULL)));

    TingKey receiver;
    check(ting_key_from_seed(to_seed, &receiver), "receiver's key");
    uint8_t messaging[32];
    check(ting_messaging_key(&receiver, messaging), "messaging key");
    uint8_t entropy[32];
    memset(entropy, 42, sizeof entropy); /* a device takes these from its random source */
    uint8_t sealed[64 + TING_SEAL_OVERHEAD_BYTES];
    size_t sealed_len = 0;
    const char *secret = "a private reading";
    check(ting_seal(messaging, (const uint8_t *)"aad", 3, (const uint8_t *)secret, strlen(secret),
                    entropy, sealed, sizeof sealed, &sealed_len),
          "seal");
    char opened[64];
    size_t opened_len = 0;
    check(ting_unseal(&receiver, (const uint8_t *)"aad", 3, sealed, sealed_len, (uint8_t *)opened,
                      sizeof opened, &opened_len),
          "unseal");
    printf("unsealed %.*s\n", (int)opened_len, opened);
    printf("unsealed_by_another %s\n",
           ting_status_name(ting_unseal(&key, (const uint8_t *)"aad", 3, sealed, sealed_len,
                                        (uint8_t *)opened, sizeof opened, &opened_len)));

    /* The broker password for client id = the account in hex. */
    char client_id[65];
    for (size_t i = 0; i < 32; i++) {
        sprintf(client_id + 2 * i, "%02x", account[i]);
    }
    uint8_t nonce[16];
    memset(nonce, 1, sizeof nonce);
    char password[TING_LOGIN_TOKEN_TEXT_BYTES + 1];
    check(ting_login_token(&key, genesis, client_id, 1700000000000ULL, nonce, password,
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

    /* The device's own account, proved under a header the sequencer signed:
     * its balance and the nonce its next transaction must carry. */
    size_t answer_len = strlen(argv[4]) / 2;
    uint8_t *answer = malloc(answer_len);
    if (answer == NULL || from_hex(argv[4], answer, answer_len)) {
        fprintf(stderr, "the account answer is hex\n");
        return 2;
    }
    TingAccount mine;
    check(ting_account_check(answer, answer_len, account, genesis, sequencer, 1, 0, &mine), "account");
    printf("account_state %llu %llu %llu\n", (unsigned long long)mine.balance,
           (unsigned long long)mine.nonce, (unsigned long long)mine.height);
    printf("account_stale %s\n",
           ting_status_name(ting_account_check(answer, answer_len, account, genesis, sequencer, 1,
                                               mine.height + 1, &mine)));
    free(answer);
    printf("version %s\n", ting_version());
    return 0;
}

/*
 * Signs COUNT transfers through libting, one after another on one core, and
 * prints how long it took: `ting bench bindings` compares it with the same
 * signing in Rust (c_sign_ratio).
 *
 *   ./bench_sign COUNT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ting.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s COUNT\n", argv[0]);
        return 2;
    }
    unsigned long long count = strtoull(argv[1], NULL, 10);
    uint8_t seed[32], genesis[32], to[32], tx[TING_TX_BYTES_MAX];
    memset(seed, 3, sizeof seed);
    memset(genesis, 9, sizeof genesis);
    memset(to, 0, sizeof to);
    uint8_t to_seed[32];
    memset(to_seed, 4, sizeof to_seed);
    TingKey key;
    if (ting_account_from_seed(to_seed, to) != TING_STATUS_OK ||
        ting_key_from_seed(seed, &key) != TING_STATUS_OK) {
        return 1;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t len = 0;
    unsigned long long checksum = 0;
    for (unsigned long long nonce = 0; nonce < count; nonce++) {
        TingStatus status = ting_sign_transfer(&key, genesis, nonce, 1800000000000ULL, to, 1, NULL,
                                               0, tx, sizeof tx, &len);
        if (status != TING_STATUS_OK) {
            fprintf(stderr, "sign: %s\n", ting_status_name(status));
            return 1;
        }
        checksum += tx[len - 1];
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("signed %llu in %.9f (checksum %llu)\n", count, seconds, checksum);
    return 0;
}

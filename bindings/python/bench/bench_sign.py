"""Signs COUNT transfers through the package, one after another, as
crates/ting-c/examples/bench_sign.c does in C; `ting bench bindings` runs it
and compares the rate with Rust's in the same run.

    python bench_sign.py COUNT
prints `signed COUNT in SECONDS (checksum N)`; the checksum (the sum of each
transaction's last byte) must equal the Rust side's, so both signed the same.
"""

import sys
import time

import ting

VALID_UNTIL = 1_800_000_000_000
GENESIS = "09" * 32


def main() -> None:
    count = int(sys.argv[1])
    key = ting.Key.from_seed(bytes([3] * 32))
    to = ting.Key.from_seed(bytes([4] * 32)).account
    checksum = 0
    started = time.perf_counter()
    for nonce in range(count):
        tx = key.sign_transfer(to, 1, genesis=GENESIS, nonce=nonce, valid_until=VALID_UNTIL)
        checksum += tx.bytes[-1]
    seconds = time.perf_counter() - started
    print(f"signed {count} in {seconds:.9f} (checksum {checksum})")


if __name__ == "__main__":
    main()

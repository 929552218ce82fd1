"""Keys and signing with no network: the same bytes the Rust code signs,
checked signatures, and bad input refused with a code."""

import random

import pytest

import ting
from conftest import key_for, ting_bin

GENESIS = "ab" * 32
VALID_UNTIL = 2_000_000_000_000


def test_a_seed_always_gives_the_same_key():
    a = ting.Key.from_seed(bytes(range(32)))
    b = ting.Key.from_seed(bytes(range(32)))
    assert a.account == b.account
    assert a.account.startswith("did:key:z6Mk")
    assert len(a.account_hex) == 64
    assert ting.Key.generate().account != a.account


def test_a_signed_transfer_decodes_to_itself_and_verifies():
    key, to = key_for("offline-a"), key_for("offline-b")
    tx = key.sign_transfer(to.account, 42, genesis=GENESIS, nonce=7, valid_until=VALID_UNTIL)
    back = ting.Tx.decode(tx.bytes)
    assert back.hash == tx.hash and back.bytes == tx.bytes
    assert (back.kind, back.nonce, back.sender) == ("transfer", 7, key.account)
    back.verify()
    j = tx.to_json()
    assert j["fields"] == {"to": to.account, "amount": 42}
    assert j["genesis"] == GENESIS and j["valid_until"] == VALID_UNTIL


def test_any_kind_signs_from_its_json_fields():
    owner, device = key_for("offline-owner"), key_for("offline-device")
    tx = owner.sign("set_spend_limit", {"device": device.account, "per_day": 500},
                    genesis=GENESIS, nonce=1, valid_until=VALID_UNTIL)
    assert tx.kind == "set_spend_limit"
    assert tx.to_json()["fields"] == {"device": device.account, "per_day": 500}
    same = owner.sign("transfer", {"to": device.account, "amount": 42},
                      genesis=GENESIS, nonce=1, valid_until=VALID_UNTIL)
    assert same.bytes == owner.sign_transfer(device.account, 42, genesis=GENESIS, nonce=1,
                                             valid_until=VALID_UNTIL).bytes


def test_a_changed_signature_is_refused():
    key = key_for("offline-tamper")
    raw = bytearray(key.sign_transfer(key.account, 1, genesis=GENESIS, nonce=1,
                                      valid_until=VALID_UNTIL).bytes)
    raw[-1] ^= 1
    with pytest.raises(ting.TingError) as e:
        ting.Tx.decode(bytes(raw)).verify()
    assert e.value.code == "bad_signature"


@pytest.mark.parametrize("call, code", [
    (lambda: ting.Key.from_seed(b"short"), "bad_seed"),
    (lambda: key_for("x").sign_transfer("did:key:nope", 1, genesis=GENESIS, nonce=1,
                                        valid_until=VALID_UNTIL), "bad_account"),
    (lambda: key_for("x").sign_transfer(key_for("y").account, 1, genesis="12", nonce=1,
                                        valid_until=VALID_UNTIL), "bad_genesis"),
    (lambda: key_for("x").sign("no_such_kind", {}, genesis=GENESIS, nonce=1,
                               valid_until=VALID_UNTIL), None),
    (lambda: key_for("x").sign("transfer", {"to": key_for("y").account},
                               genesis=GENESIS, nonce=1, valid_until=VALID_UNTIL), None),
    (lambda: key_for("x").sign("transfer", {"to": object()}, genesis=GENESIS, nonce=1,
                               valid_until=VALID_UNTIL), "bad_input"),
    (lambda: ting.Tx.decode(b"\x02" * 10_000_000), None),
    (lambda: ting.Tx.decode(b""), None),
])
def test_bad_input_is_a_ting_error_with_a_code(call, code):
    with pytest.raises(ting.TingError) as e:
        call()
    assert e.value.code and e.value.message
    if code is not None:
        assert e.value.code == code


def test_random_bytes_never_decode_to_a_verified_transaction():
    seed = 20261207
    rng = random.Random(seed)
    good = key_for("offline-fuzz").sign_transfer(key_for("y").account, 5, genesis=GENESIS,
                                                  nonce=3, valid_until=VALID_UNTIL).bytes
    for i in range(500):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data[: rng.randint(0, len(data))]) if rng.random() < 0.3 else bytes(data)
        if data == good:
            continue
        try:
            ting.Tx.decode(data).verify()
        except ting.TingError:
            continue
        pytest.fail(f"seed {seed}, case {i}: {data.hex()} verified")


def test_key_files_are_the_clis(tmp_path):
    import subprocess

    printed = subprocess.run([str(ting_bin()), "keygen", "--out", str(tmp_path / "k.key")],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert ting.Key.load(tmp_path / "k.key").account == printed
    key = key_for("offline-file")
    key.save(tmp_path / "mine.key")
    assert ting.Key.load(tmp_path / "mine.key").account == key.account
    assert (tmp_path / "mine.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ting.TingError):
        key.save(tmp_path / "mine.key")
    (tmp_path / "junk.key").write_bytes(b"\xff" * 10_000_000)
    with pytest.raises(ting.TingError):
        ting.Key.load(tmp_path / "junk.key")

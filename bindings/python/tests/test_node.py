"""The node's HTTP API from Python: a dev node started by the tests, every
commit and balance checked, refusals raised with the ledger's code."""

import subprocess

import pytest

import ting
from conftest import free_port, key_for, ting_bin


def test_a_transfer_commits_and_both_balances_are_proved(node):
    alice, bob = key_for("node-alice"), key_for("node-bob")
    node.faucet(alice.account, 1000)
    receipt = node.transfer(alice, bob.account, 250)
    assert receipt["height"] >= 1 and len(receipt["tx_hash"]) == 64
    assert node.balance(alice.account) == 750
    assert node.balance(bob.account) == 250
    assert node.nonce(alice.account) == 1
    record = node.transaction(receipt["tx_hash"])
    assert record["tx"].hash == receipt["tx_hash"] and record["tx"].sender == alice.account
    assert record["receipt"]["header"]["height"] == receipt["height"]
    with pytest.raises(ting.TingError) as e:
        node.transaction("00" * 32)
    assert e.value.code == "unknown_transaction"


def test_a_transaction_signed_offline_is_submitted_later(node, dev):
    carol, dave = key_for("node-carol"), key_for("node-dave")
    node.faucet(carol.account, 100)
    now_ms = node.status()["clock"]["now_ms"]
    tx = carol.sign_transfer(dave.account, 30, genesis=node.genesis, nonce=0,
                             valid_until=now_ms + 600_000)
    # The CLI takes the Python-signed bytes as they are.
    out = dev.cli_json("submit", tx.bytes.hex())
    assert out["tx_hash"] == tx.hash
    assert node.balance(dave.account) == 30
    # The same bytes again answer the same commit, and pay nothing twice.
    again = node.submit(tx)
    assert again["tx_hash"] == tx.hash and again["height"] == out["height"]
    assert node.balance(dave.account) == 30


def test_a_transaction_signed_by_the_cli_is_submitted_from_python(node, dev, tmp_path):
    erin, frank = key_for("node-erin"), key_for("node-frank")
    erin.save(tmp_path / "erin.key")
    node.faucet(erin.account, 100)
    hex_tx = dev.cli("sign", "transfer", "--key", str(tmp_path / "erin.key"),
                     "--to", frank.account, "--amount", "9").strip()
    tx = ting.Tx.decode(bytes.fromhex(hex_tx))
    tx.verify()
    assert node.submit(tx)["tx_hash"] == tx.hash
    assert node.balance(frank.account) == 9


def test_any_kind_goes_through_sign_and_submit(node):
    owner, device = key_for("node-owner"), key_for("node-device")
    node.faucet(owner.account, 10)
    receipt = node.sign_and_submit(owner, "transfer", {"to": device.account, "amount": 4})
    assert receipt["height"] >= 1
    assert node.balance(device.account) == 4


def test_a_refusal_carries_the_ledgers_code(node):
    poor, rich = key_for("node-poor"), key_for("node-rich")
    with pytest.raises(ting.TingError) as e:
        node.transfer(poor, rich.account, 1)
    assert e.value.code == "unknown_sender"
    node.faucet(poor.account, 2)
    with pytest.raises(ting.TingError) as e:
        node.transfer(poor, rich.account, 5)
    assert e.value.code == "insufficient_funds"
    assert node.balance(poor.account) == 2


def test_a_node_signing_with_another_key_is_not_believed(dev):
    stranger = key_for("node-stranger")
    with pytest.raises(ting.TingError) as e:
        ting.Node(dev.url, sequencers=[stranger.account])
    assert e.value.code == "untrusted_sequencer"
    trusted = ting.Node(dev.url).status()["sequencer"]
    assert ting.Node(dev.url, sequencers=[trusted]).network >= 0


def test_reads_are_bounded_to_the_api(node):
    assert node.get("/v1/status")["genesis_hash"] == node.genesis
    with pytest.raises(ting.TingError) as e:
        node.get("/../etc/passwd")
    assert e.value.code == "bad_path"


def test_nothing_listening_is_a_clear_error():
    with pytest.raises(ting.TingError) as e:
        ting.Node(f"http://127.0.0.1:{free_port()}")
    assert e.value.code == "node_unreachable" and "127.0.0.1" in e.value.message

"""The market's buyer side from Python: a call for proposals answered by
the CLI's provider (`ting market provide`, as in the README), the policy's
choice paid into a hold, the provider's acceptance seen on the ledger, and
the hold released on the buyer's word."""

import subprocess

import pytest

import ting
from conftest import key_for, ting_bin, wait_until

CATEGORY = "water.cartridge.replace"


def test_a_python_buyer_calls_chooses_holds_and_releases(dev, node, tmp_path):
    cellar, centre = key_for("market-cellar"), key_for("market-centre")
    centre.save(tmp_path / "centre.key")
    node.faucet(cellar.account, 1_100_000)
    node.faucet(centre.account, 10)
    provider = subprocess.Popen(
        [str(ting_bin()), "market", "provide", "--key", "centre.key", "--category",
         "water.cartridge", "--area", "u4pr", "--price", "40000", "--deliver-in", "2h",
         "--jobs", "1", "--ready", "centre.ready", "--for", "120s"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={"TING_NODE": dev.url, "PATH": ""},
    )
    try:
        wait_until(lambda: (tmp_path / "centre.ready").exists(), "the provider to follow calls")
        with ting.Device(cellar, tmp_path / "cellar", dev.url) as device:
            buyer = device.market_buyer(max_price=60_000)
            call = buyer.call(CATEGORY, "one AquaPure-5 cartridge, fitted", 60_000,
                              area="u4pruydq", answer_within=3, deliver_within=4 * 3600)
            seen = []

            def chose():
                seen.extend(buyer.step(timeout=0.5))
                return any(e["type"] == "chose" for e in seen)

            wait_until(chose, "the buyer to choose a proposal", timeout_s=60)
            kinds = [e["type"] for e in seen]
            assert kinds.index("proposed") < kinds.index("chose"), seen
            chosen = next(e for e in seen if e["type"] == "chose")
            assert (chosen["provider"], chosen["price"], chosen["call"]) == (
                centre.account, 40_000, call)

            def accepted():
                buyer.step(timeout=0.2)
                c = buyer.contract(call)
                return c if c["hold_phase"] == "accepted" else None

            contract = wait_until(accepted, "the provider to accept the hold", timeout_s=60)
            assert contract["hold"] == chosen["hold"] and contract["status"] == "accepted"
            events = buyer.release(call)
            assert [e["type"] for e in events] == ["released"]
            assert buyer.contract(call)["status"] == "released"
        assert provider.wait(timeout=120) == 0, provider.stderr.read()
        assert node.balance(centre.account) == 40_010
    finally:
        if provider.poll() is None:
            provider.kill()
            provider.wait()


def test_a_call_out_of_bounds_is_refused_and_the_buyer_goes_on(dev, node, tmp_path):
    key = key_for("market-bounds")
    node.faucet(key.account, 10)
    with ting.Device(key, tmp_path / "d", dev.url) as device:
        buyer = device.market_buyer(max_price=100)
        for category, spec, rounds in (("", "x", 0), ("a" * 49, "x", 0), ("water", "s" * 513, 0),
                                       ("water", "x", 5)):
            try:
                buyer.call(category, spec, 100, rounds=rounds)
            except ting.TingError as e:
                assert e.code == "bad_call" and e.message
            else:
                raise AssertionError(f"{category!r} {len(spec)} {rounds} was taken")
        with pytest.raises(ting.TingError) as e:
            buyer.call("water", "x", 100, answer_within=0)
        assert e.value.code == "bad_duration"
        assert buyer.contract("00" * 32) is None

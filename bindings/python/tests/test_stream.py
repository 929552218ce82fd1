"""Buying a data stream from Python within a budget: the seller is the
CLI's (`ting stream sell`, under its owner's consent record, as in the
README); the buyer is a Python device that pays per epoch and gets rows."""

import subprocess

import ting
from conftest import key_for, ting_bin


def test_a_python_buyer_gets_the_points_it_paid_for(dev, node, tmp_path):
    alice, meter, utility = (key_for(f"stream-{n}") for n in ("alice", "meter", "utility"))
    for key, name in ((alice, "alice"), (meter, "meter")):
        key.save(tmp_path / f"{name}.key")
    node.faucet(alice.account, 1000)
    node.faucet(meter.account, 2_000_000)
    node.faucet(utility.account, 10_000)
    dev.cli("device", "register", "--key", "alice.key", "--device-key", "meter.key",
            "--metadata", "water meter", cwd=tmp_path)
    dev.cli("consent", "new", "--key", "alice.key", "--device", meter.account,
            "--allow", "hardness=raw", "--buyer", utility.account,
            "--purpose", "city water planning", "--min-price", "20", "--out", "meter.consent",
            cwd=tmp_path)
    opened = dev.cli_json("stream", "open", "--key", "meter.key", "--consent", "meter.consent",
                          "--field", "hardness:mg/l:1", "--price", "20", "--epoch-points", "10",
                          "--area", "u0m", cwd=tmp_path)
    stream = opened["stream"]

    with ting.Device(utility, tmp_path / "utility", dev.url) as buyer_device:
        buyer = buyer_device.buy_stream(stream, budget=100)
        readings = "".join(f"hardness {1200 + i}\nflow 7\n" for i in range(1, 21))
        seller = subprocess.Popen(
            [str(ting_bin()), "stream", "sell", "--key", "meter.key", "--stream", stream,
             "--consent", "meter.consent", "--state", "meter", "--linger", "5s"],
            cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, env={"TING_NODE": dev.url, "PATH": ""},
        )
        seller.stdin.write(readings)
        seller.stdin.close()
        rows = buyer.collect(points=20, timeout=60)
        assert seller.wait(timeout=120) == 0, seller.stderr.read()
        assert len(rows) == 20, rows
        assert rows[0] == {"seq": rows[0]["seq"], "epoch": rows[0]["epoch"], "field": "hardness",
                           "unit": "mg/l", "form": "number", "value": "120.1",
                           "at_ms": rows[0]["at_ms"]}
        assert [r["value"] for r in rows][-1] == "122.0"
        assert {r["field"] for r in rows} == {"hardness"}  # the raw flow never left
        assert buyer.spent == 40 and len(buyer.epochs) == 2
        assert node.get(f"/v1/channels/{buyer.channel}")["payer"] == utility.account
        # Nothing more comes, and nothing more is paid.
        assert buyer.collect(timeout=0.5) == []
        assert buyer.spent == 40

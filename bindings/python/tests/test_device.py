"""Devices from Python over the node's broker: logged in with their keys,
transacting through the outbox, messaging each other, and paying through a
channel that the payee takes up, counts and claims."""

import pytest

import ting
from conftest import key_for, wait_until


@pytest.fixture
def pair(dev, node, tmp_path):
    a_key, b_key = key_for("device-a-" + tmp_path.name), key_for("device-b-" + tmp_path.name)
    node.faucet(a_key.account, 1000)
    node.faucet(b_key.account, 10)
    a = ting.Device(a_key, tmp_path / "a", dev.url)
    b = ting.Device(b_key, tmp_path / "b", dev.url)
    yield a, b
    a.close()
    b.close()


def test_a_device_transfers_over_mqtt_and_reads_its_proved_balance(pair, node):
    a, b = pair
    receipt = a.transfer(b.account, 40)
    assert receipt["height"] >= 1
    assert a.balance() == 960
    assert node.balance(b.account) == 50
    assert a.outbox_len() == 0


def test_devices_message_each_other_signed_and_sealed(pair):
    a, b = pair
    b.publish_messaging_key()
    a.send(b.account, b"hello from a")
    a.send(b.account, b"for b only", private=True)
    got = [wait_until(lambda: b.recv(timeout=1.0), "a message for b") for _ in range(2)]
    assert [(m["type"], m["from"], m["payload"], m["encrypted"]) for m in got] == [
        ("data", a.account, b"hello from a", False),
        ("data", a.account, b"for b only", True),
    ]
    assert b.recv(timeout=0.2) is None


def test_a_channel_pays_per_tick_and_the_payee_claims_it(pair, node):
    a, b = pair
    channel = a.open_channel(b.account, 50)
    b.accept_channel(channel)
    for i in range(1, 4):
        assert a.pay(channel, 1) == {"channel": channel, "paid": i}
    payments = []
    while len(payments) < 3:
        m = wait_until(lambda: b.recv(timeout=1.0), "a payment for b")
        payments.append(m)
    assert [(m["type"], m["channel"], m["total"]) for m in payments] == [
        ("payment", channel, 1), ("payment", channel, 2), ("payment", channel, 3)]
    assert b.paid_by(a.account, channel) == 3
    assert b.claim(channel) == 3
    assert node.balance(b.account) == 13
    assert node.get(f"/v1/channels/{channel}")["deposit"] == 50


def test_a_closed_device_says_so_and_lets_its_directory_go(dev, node, tmp_path):
    key = key_for("device-closed")
    with ting.Device(key, tmp_path / "d", dev.url) as d:
        assert d.account == key.account
        # One device at a time on a state directory: its outbox has one writer.
        with pytest.raises(ting.TingError) as e:
            ting.Device(key, tmp_path / "d", dev.url)
        assert e.value.code == "state_in_use" and str(tmp_path / "d") in e.value.message
    with pytest.raises(ting.TingError) as e:
        d.balance()
    assert e.value.code == "closed"
    with ting.Device(key, tmp_path / "d", dev.url) as again:
        assert again.account == key.account


@pytest.mark.parametrize("call, code", [
    (lambda d: d.transfer("not an account", 1), "bad_account"),
    (lambda d: d.pay("zz", 1), "bad_channel"),
    (lambda d: d.recv(timeout=-1), "bad_duration"),
    (lambda d: d.recv(timeout=float("nan")), "bad_duration"),
    (lambda d: d.open_channel(d.account, 0), "bad_amount"),
    (lambda d: d.pay("00" * 32, 1), None),
])
def test_bad_arguments_are_refused_and_the_device_goes_on(pair, call, code):
    a, b = pair
    with pytest.raises(ting.TingError) as e:
        call(a)
    assert e.value.code and e.value.message
    if code is not None:
        assert e.value.code == code
    assert a.transfer(b.account, 1)["height"] >= 1


def test_a_device_needs_a_broker(tmp_path):
    import subprocess

    from conftest import free_port, ting_bin, DevNode  # noqa: F401

    port = free_port()
    proc = subprocess.Popen([str(ting_bin()), "node", "--dev", "--no-mqtt", "--data-dir",
                             str(tmp_path / "data"), "--http", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _answers(port), "the node without MQTT to start")
        with pytest.raises(ting.TingError) as e:
            ting.Device(key_for("device-nobroker"), tmp_path / "d", f"http://127.0.0.1:{port}")
        assert e.value.code == "no_broker"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _answers(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False

"""Ting for Python: keys and signing, a node's HTTP API, and devices on
the network (MQTT with login, channels, data streams, the market's buyer
side), over the same Rust code the node and the ``ting`` CLI run.

Five minutes with a dev node: docs/python.md.
"""

from ting._native import Device, Key, MarketBuyer, Node, StreamBuyer, Tx, __version__
from ting.errors import TingError

__all__ = ["Device", "Key", "MarketBuyer", "Node", "StreamBuyer", "Tx", "TingError", "__version__"]

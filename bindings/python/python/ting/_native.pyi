"""Types of the extension module; the package re-exports everything here.

Amounts are integers in base units. Accounts are ``did:key`` strings (the
64-hex-digit public key is taken too). Ids (transactions, channels,
streams, calls, holds) are 64 hex digits. Every failure raises
``ting.TingError`` with a stable ``code``.
"""

from os import PathLike
from typing import Any, Literal, TypedDict

__version__: str

class Receipt(TypedDict):
    """A commit, checked against the sequencer's signed header."""

    tx_hash: str
    height: int
    index: int

class Payment(TypedDict):
    channel: str
    paid: int

class Row(TypedDict, total=False):
    """One point bought; ``window_ms`` and ``count`` only for aggregates."""

    seq: int
    epoch: int
    field: str
    unit: str
    form: Literal["number", "location", "aggregate"]
    value: str
    at_ms: int
    window_ms: int
    count: int

class Key:
    """An Ed25519 signing key; the seed never leaves it except by ``save``."""

    @staticmethod
    def generate() -> Key: ...
    @staticmethod
    def from_seed(seed: bytes) -> Key: ...
    @staticmethod
    def load(path: str | PathLike[str]) -> Key: ...
    def save(self, path: str | PathLike[str]) -> None:
        """Writes a new key file, mode 0600; refuses to overwrite one."""
    @property
    def account(self) -> str: ...
    @property
    def account_hex(self) -> str: ...
    def sign(
        self, kind: str, fields: dict[str, Any], *, genesis: str, nonce: int, valid_until: int
    ) -> Tx:
        """Signs any kind, ``fields`` as in docs/api.md §4."""
    def sign_transfer(
        self, to: str, amount: int, *, genesis: str, nonce: int, valid_until: int
    ) -> Tx: ...
    def sign_bytes(self, message: bytes) -> bytes: ...

class Tx:
    """A signed transaction."""

    @staticmethod
    def decode(data: bytes) -> Tx: ...
    def verify(self) -> None:
        """Raises ``TingError("bad_signature")`` unless the sender signed it."""
    @property
    def bytes(self) -> bytes: ...
    @property
    def hash(self) -> str: ...
    @property
    def sender(self) -> str: ...
    @property
    def nonce(self) -> int: ...
    @property
    def kind(self) -> str: ...
    def to_json(self) -> dict[str, Any]: ...

class Node:
    """A node's HTTP API; commits, balances and nonces are checked."""

    def __init__(self, url: str, *, sequencers: list[str] | None = None) -> None: ...
    @property
    def genesis(self) -> str: ...
    @property
    def network(self) -> int: ...
    @property
    def url(self) -> str: ...
    def status(self) -> dict[str, Any]: ...
    def get(self, path: str) -> dict[str, Any]:
        """Any ``/v1/...`` read, as the node answered it (not checked)."""
    def balance(self, account: str) -> int: ...
    def nonce(self, account: str) -> int: ...
    def submit(self, tx: Tx) -> Receipt: ...
    def transaction(self, tx_hash: str) -> dict[str, Any]:
        """``{"tx": Tx, "receipt": {...}}``, the receipt checked."""
    def sign_and_submit(self, key: Key, kind: str, fields: dict[str, Any]) -> Receipt: ...
    def transfer(self, key: Key, to: str, amount: int) -> Receipt: ...
    def faucet(self, to: str, amount: int) -> dict[str, Any]: ...

class Device:
    """A device on the network through the node's broker."""

    def __init__(
        self,
        key: Key,
        state_dir: str | PathLike[str],
        node: str,
        *,
        connect_timeout: float = 15.0,
    ) -> None: ...
    def __enter__(self) -> Device: ...
    def __exit__(self, *exc: object) -> None: ...
    @property
    def account(self) -> str: ...
    def balance(self) -> int: ...
    def transfer(self, to: str, amount: int) -> Receipt: ...
    def submit(self, kind: str, fields: dict[str, Any]) -> Receipt: ...
    def publish_messaging_key(self) -> Receipt: ...
    def send(self, to: str, data: bytes, *, private: bool = False) -> None: ...
    def recv(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """``{"type": "data", "from", "payload", "encrypted"}``,
        ``{"type": "payment", "from", "channel", "paid", "total"}``, or
        another kind with ``type`` and ``from``; None after ``timeout``."""
    def outbox_len(self) -> int: ...
    def open_channel(
        self,
        payee: str,
        deposit: int,
        *,
        price: int = 1,
        ticks: int | None = None,
        valid_for: float = 604800.0,
    ) -> str: ...
    def pay(self, channel: str, units: int = 1) -> Payment: ...
    def accept_channel(self, channel: str) -> None: ...
    def paid_by(self, payer: str, channel: str) -> int: ...
    def claim(self, channel: str) -> int: ...
    def buy_stream(self, stream: str, *, budget: int, deposit: int | None = None) -> StreamBuyer: ...
    def market_buyer(
        self, *, max_price: int, min_score_ppm: int = 0, newcomer_max: int | None = None
    ) -> MarketBuyer: ...
    def close(self) -> None: ...

class StreamBuyer:
    """One stream bought within a budget."""

    def collect(self, *, points: int | None = None, timeout: float = 30.0) -> list[Row]: ...
    @property
    def spent(self) -> int: ...
    @property
    def epochs(self) -> list[int]: ...
    @property
    def channel(self) -> str: ...
    @property
    def stream(self) -> str: ...
    def stop(self) -> None: ...

class MarketBuyer:
    """The market's buyer side (docs/market.md §5)."""

    def call(
        self,
        category: str,
        spec: str,
        max_price: int,
        *,
        area: str = "",
        answer_within: float = 10.0,
        deliver_within: float = 3600.0,
        grace: float | None = None,
        rounds: int = 0,
        arbiter: str | None = None,
    ) -> str: ...
    def step(self, timeout: float = 1.0) -> list[dict[str, Any]]:
        """Events: ``type`` (proposed, countered, chose, no_proposal,
        hold_refused, released, refunded, ended) and ``call``, with
        ``provider``, ``price``, ``hold`` or ``code`` where they apply."""
    def contract(self, call: str) -> dict[str, Any] | None: ...
    def release(self, call: str) -> list[dict[str, Any]]: ...

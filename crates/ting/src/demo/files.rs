//! The demo city's files: `city.json` (seed, households, speed), the
//! network's genesis and the node's key, and the `keys/` folder a newcomer
//! uses to join in as one household.
//!
//! A data directory holds one city. Run again with the same arguments, the
//! demo continues it; with others it refuses and says to add `--fresh`,
//! which removes the city (only a directory that holds a city, or nothing).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use ting_core::files::{genesis_file_text, key_file_text};
use ting_core::{Genesis, Hash32, Keypair, LedgerClock, NetworkId};
use ting_sim::city::Cast;

use crate::failure::bad_input;

/// The network id of every demo city.
pub const CITY_NETWORK: NetworkId = NetworkId(7_001);

/// The most a `city.json` may hold: three numbers.
const CITY_FILE_BYTES_MAX: u64 = 4_096;

/// What makes a city: the same three give the same city.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CityFile {
    pub seed: u64,
    pub households: u32,
    pub speed: u32,
}

/// The city's network: its genesis and the node's key.
#[derive(Debug)]
pub struct CityNet {
    pub genesis: Genesis,
    pub node_key: Keypair,
}

fn city_path(dir: &Path) -> PathBuf {
    dir.join("city.json")
}

/// Removes the city in `dir` for `--fresh`: only a directory that holds a
/// city (or is empty), never someone's other files.
pub fn remove_city(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let empty = std::fs::read_dir(dir)?.next().is_none();
    if !empty && !city_path(dir).exists() {
        return Err(bad_input(
            "not_a_city",
            format!(
                "--fresh would remove {}, which holds no demo city (no city.json); pick another --data-dir",
                dir.display()
            ),
        ));
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))
}

/// The node's key of a city: derived from its seed.
pub(super) fn node_key(seed: u64) -> Keypair {
    Keypair::from_seed(Hash32::digest(&[b"ting-demo-node", &seed.to_le_bytes()]).0)
}

/// The city in `dir`: continued if its `city.json` says `want`, made new if
/// the directory holds none, refused otherwise.
pub fn open_city(dir: &Path, want: CityFile, cast: &Cast) -> anyhow::Result<(CityNet, bool)> {
    let path = city_path(dir);
    if path.exists() {
        let size = std::fs::metadata(&path)?.len();
        if size > CITY_FILE_BYTES_MAX {
            return Err(bad_input(
                "bad_city_file",
                format!(
                    "{} is {size} bytes, more than a city file's {CITY_FILE_BYTES_MAX}; add --fresh to start a new city",
                    path.display()
                ),
            ));
        }
        let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let have: CityFile = serde_json::from_slice(&text).map_err(|e| {
            bad_input(
                "bad_city_file",
                format!("{}: {e}; add --fresh to start a new city", path.display()),
            )
        })?;
        if have != want {
            return Err(bad_input(
                "other_city",
                format!(
                    "{} holds another city (seed {}, {} households, speed {}); add --fresh to start this one there, or pick another --data-dir",
                    dir.display(), have.seed, have.households, have.speed
                ),
            ));
        }
        let genesis = ting_agent::read_genesis(&dir.join("genesis.json"))?;
        return Ok((
            CityNet {
                genesis,
                node_key: node_key(want.seed),
            },
            false,
        ));
    }
    let net = new_city(want, cast);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write(
        &dir.join("genesis.json"),
        genesis_file_text(&net.genesis).as_bytes(),
    )?;
    write(&path, serde_json::to_string_pretty(&want)?.as_bytes())?;
    Ok((net, true))
}

fn new_city(want: CityFile, cast: &Cast) -> CityNet {
    let node_key = node_key(want.seed);
    let genesis = Genesis {
        name: format!("water-city-{}", want.seed),
        network: CITY_NETWORK,
        timestamp: ting_agent::clock::now(),
        issuers: vec![node_key.account()],
        sequencers: vec![node_key.account()],
        allocations: cast
            .allocations()
            .into_iter()
            .map(|(id, n)| (id, ting_core::Amount::new(n)))
            .collect(),
        clock: LedgerClock::Accelerated { speed: want.speed },
    };
    CityNet { genesis, node_key }
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Writes `keys/`: the utility's, one household's and its purifier's keys,
/// and a README with their ids and three commands to try.
pub fn write_keys(dir: &Path, cast: &Cast, node_url: &str) -> anyhow::Result<PathBuf> {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys)?;
    let (owner, purifier) = (&cast.owners[0], &cast.purifiers[0]);
    for (file, key) in [
        ("utility.key", &cast.utility.key),
        ("household.key", &owner.key),
        ("purifier.key", &purifier.key),
    ] {
        write_private(&keys.join(file), key_file_text(key).as_bytes())?;
    }
    let text = format!(
        "Keys of the demo city, to join in as {owner_name}.\n\n\
         utility    {utility}\n\
         household  {owner_id}   ({owner_name}, keys/household.key)\n\
         purifier   {purifier_id}   ({purifier_name}, keys/purifier.key)\n\n\
         Try, while the demo runs:\n\
         1. Look at the household's purifier (balance, daily limit, spent today):\n   ting account show {purifier_id} --node {node_url}\n\
         2. Sign a consent record letting the utility buy the purifier's hardness, hourly means only, for 30 days:\n   ting consent new --key {k}/household.key --device {purifier_id} --allow hardness=mean:1h --buyer {utility} --purpose 'district hardness map' --min-price 10 --valid-for 30d --out {k}/consent.hex --node {node_url}\n\
         3. Freeze the purifier (it can send nothing until you unfreeze it; watch its orders stop):\n   ting device freeze --device {purifier_id} --key {k}/household.key --node {node_url}\n",
        owner_name = owner.name,
        utility = cast.utility.account(),
        owner_id = owner.account(),
        purifier_id = purifier.account(),
        purifier_name = purifier.name,
        k = keys.display(),
    );
    write(&keys.join("README.txt"), text.as_bytes())?;
    Ok(keys)
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

//! Who may subscribe and publish where (docs/mqtt.md §10), written once as data.
//!
//! Every broker Ting runs on enforces this table: the node's embedded broker
//! calls [`check`] on every SUBSCRIBE and PUBLISH, and the set-ups for external
//! brokers are derived from the same rows. A topic or filter that no row names
//! is refused; later capabilities add rows instead of opening holes.
//!
//! Patterns are matched level by level: a literal level must be equal, `{self}`
//! is the logged-in account in lowercase hex, `{account}` is any account in
//! lowercase hex, `+` matches only a `+` in a subscription filter (a wildcard
//! is granted only where a row lists it), and a final `#` matches whatever
//! levels remain.

use crate::prelude::*;

use crate::account::AccountId;

/// Who is logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An account that is not a sequencer of the network.
    Device,
    /// A sequencer of the network: the node's own clients.
    Node,
}

/// What a client asks to do with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Subscribe,
    Publish,
    /// Publish with the retain flag (or set a retained last will).
    PublishRetained,
}

/// What one role may do on the topics of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub subscribe: bool,
    pub publish: bool,
    pub retain: bool,
}

impl Grant {
    const NONE: Grant = Grant {
        subscribe: false,
        publish: false,
        retain: false,
    };
    const SUB: Grant = Grant {
        subscribe: true,
        ..Grant::NONE
    };
    const PUB: Grant = Grant {
        publish: true,
        ..Grant::NONE
    };
    const RETAIN: Grant = Grant {
        subscribe: true,
        publish: true,
        retain: true,
    };

    fn allows(&self, access: Access) -> bool {
        match access {
            Access::Subscribe => self.subscribe,
            Access::Publish => self.publish,
            Access::PublishRetained => self.retain,
        }
    }

    fn text(&self) -> String {
        let mut parts = Vec::new();
        if self.subscribe {
            parts.push("subscribe");
        }
        if self.publish {
            parts.push("publish");
        }
        if self.retain {
            parts.push("retain");
        }
        if parts.is_empty() {
            "no".into()
        } else {
            parts.join(", ")
        }
    }
}

/// One row of the table: the first row whose pattern matches decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub pattern: &'static str,
    pub device: Grant,
    pub node: Grant,
    pub why: &'static str,
}

/// The table, in the order it is matched.
pub const RULES: &[Rule] = &[
    Rule {
        pattern: "ting/v1/tx",
        device: Grant::PUB,
        node: Grant::NONE,
        why: "devices submit signed transactions",
    },
    Rule {
        pattern: "$share/ting-nodes/ting/v1/tx",
        device: Grant::NONE,
        node: Grant::SUB,
        why: "only nodes take transactions, each from one shared group",
    },
    Rule {
        pattern: "ting/v1/blocks",
        device: Grant::SUB,
        node: Grant::RETAIN,
        why: "the newest block header, kept by the node",
    },
    Rule {
        pattern: "ting/v1/books/#",
        device: Grant::SUB,
        node: Grant::RETAIN,
        why: "a class's book depth and last fills, kept by the node",
    },
    Rule {
        pattern: "ting/v1/inbox/{self}",
        device: Grant {
            subscribe: true,
            publish: true,
            retain: false,
        },
        node: Grant::PUB,
        why: "a device reads only its own inbox",
    },
    Rule {
        pattern: "ting/v1/inbox/{account}",
        device: Grant::PUB,
        node: Grant::PUB,
        why: "anyone logged in may send a signed envelope to an inbox",
    },
    Rule {
        pattern: "ting/v1/nodes/+",
        device: Grant::SUB,
        node: Grant::SUB,
        why: "finding the nodes that are up",
    },
    Rule {
        pattern: "ting/v1/nodes/{self}",
        device: Grant::NONE,
        node: Grant::RETAIN,
        why: "a node announces only itself (its hello and last will)",
    },
    Rule {
        pattern: "ting/v1/nodes/{account}",
        device: Grant::SUB,
        node: Grant::SUB,
        why: "waiting for one node",
    },
    Rule {
        pattern: "ting/v1/streams/{self}/#",
        device: Grant {
            subscribe: true,
            publish: true,
            retain: false,
        },
        node: Grant::NONE,
        why: "a seller publishes the chunks of its own streams",
    },
    Rule {
        pattern: "ting/v1/streams/{account}/#",
        device: Grant::SUB,
        node: Grant::NONE,
        why: "anyone logged in may read a stream's sealed chunks",
    },
    Rule {
        pattern: "ting/v1/streams/#",
        device: Grant::NONE,
        node: Grant::NONE,
        why: "a stream topic names its seller",
    },
    Rule {
        pattern: "ting/v1/market/calls/{self}/#",
        device: Grant {
            subscribe: true,
            publish: true,
            retain: false,
        },
        node: Grant::NONE,
        why: "a buyer publishes its own calls for proposals",
    },
    Rule {
        pattern: "ting/v1/market/calls/+/#",
        device: Grant::SUB,
        node: Grant::SUB,
        why:
            "providers listen for calls in the categories they serve; the node lists the open ones",
    },
    Rule {
        pattern: "ting/v1/market/calls/{account}/#",
        device: Grant::SUB,
        node: Grant::NONE,
        why: "anyone logged in may read one buyer's calls",
    },
    Rule {
        pattern: "ting/v1/market/#",
        device: Grant::NONE,
        node: Grant::NONE,
        why: "the rest is reserved for the market",
    },
    Rule {
        pattern: "ting/v1/witness/{self}/#",
        device: Grant::RETAIN,
        node: Grant::NONE,
        why: "a witness publishes its own attestations and evidence, the newest kept",
    },
    Rule {
        pattern: "ting/v1/witness/+/#",
        device: Grant::SUB,
        node: Grant::SUB,
        why: "devices follow every witness's attestations; the node too",
    },
    Rule {
        pattern: "ting/v1/witness/{account}/#",
        device: Grant::SUB,
        node: Grant::SUB,
        why: "anyone logged in may follow one witness",
    },
    Rule {
        pattern: "ting/v1/witness/#",
        device: Grant::NONE,
        node: Grant::NONE,
        why: "a witness topic names its witness",
    },
];

/// Why an access was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{role:?} {me} may not {access:?} {topic:?} (docs/mqtt.md §10)")]
pub struct Denied {
    pub role: Role,
    pub me: String,
    pub access: Access,
    pub topic: String,
}

impl Denied {
    pub fn code(&self) -> &'static str {
        "acl_denied"
    }
}

/// The first row whose pattern matches `topic` for `me`, if any.
pub fn rule_for(me: &AccountId, topic: &str) -> Option<&'static Rule> {
    let me = me.to_hex();
    RULES.iter().find(|r| matches(r.pattern, &me, topic))
}

/// Whether `role`, logged in as `me`, may do `access` on `topic` (a topic name
/// for a publish, a filter for a subscribe).
pub fn check(role: Role, me: &AccountId, access: Access, topic: &str) -> Result<(), Denied> {
    let grant = rule_for(me, topic).map(|r| match role {
        Role::Device => r.device,
        Role::Node => r.node,
    });
    if grant.is_some_and(|g| g.allows(access)) {
        return Ok(());
    }
    Err(Denied {
        role,
        me: me.to_hex(),
        access,
        topic: topic.chars().take(200).collect(),
    })
}

fn matches(pattern: &str, me_hex: &str, topic: &str) -> bool {
    let mut want = pattern.split('/');
    let mut have = topic.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some("#"), _) if want.clone().next().is_none() => return true,
            (Some(w), Some(h)) if level_matches(w, me_hex, h) => {}
            _ => return false,
        }
    }
}

fn level_matches(want: &str, me_hex: &str, have: &str) -> bool {
    match want {
        "{self}" => have == me_hex,
        "{account}" => is_account_hex(have),
        _ => want == have,
    }
}

fn is_account_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The table as Markdown, exactly as docs/mqtt.md §10 shows it.
pub fn table_markdown() -> String {
    let mut out =
        String::from("| topic or filter | device | node | why |\n| --- | --- | --- | --- |\n");
    for r in RULES {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            r.pattern,
            r.device.text(),
            r.node.text(),
            r.why
        ));
    }
    out
}

#[cfg(test)]
mod tests;

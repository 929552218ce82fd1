//! Witnesses: accounts that re-execute a sequencer's blocks and co-sign the
//! headers they checked, so that a header is more than the sequencer's word.
//!
//! - [`Attestation`]: a witness's signature over one header (its hash,
//!   height and epoch, under the network's genesis), made only after the
//!   witness applied the block itself and reached the header's state root.
//! - [`WitnessPolicy`]: which witnesses a device trusts and how many of them
//!   (k of n) must have attested a header before it takes a receipt or a
//!   proof under it.
//! - [`Evidence`]: what proves a sequencer dishonest on its own, with no
//!   trust in whoever presents it: two different headers it signed at one
//!   height in one epoch (a failover is not evidence: a new leader signs in
//!   a later epoch), or a block whose state root does not follow from its
//!   transactions and the state before it ([`RootEvidence`]).
//!
//! Everything here is pure: bytes in, a verdict out.

mod attestation;
mod evidence;
mod policy;
mod root;
#[cfg(test)]
mod tests;

pub use attestation::{Attestation, ATTESTATION_BYTES, ATTESTATION_VERSION, WITNESS_DOMAIN};
pub use evidence::{
    Evidence, EvidenceError, Proven, ProvenFault, EQUIVOCATION_BYTES, EVIDENCE_BYTES_MAX,
    EVIDENCE_VERSION,
};
pub use policy::{PolicyError, WitnessError, WitnessPolicy, WITNESSES_MAX};
pub use root::{RootEvidence, ROOT_EVIDENCE_RECORDS_MAX, STATE_RECORD_BYTES_MAX};

//! Reports of a run (to be written).

//! The seeded world model (to be written).

//! Storage for the Ting node (being written).

//! Ward query path (being written).
pub mod upstream;

//! Ward configuration (being written).

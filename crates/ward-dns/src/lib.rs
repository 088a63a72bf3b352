//! Ward query path (being written).

//! Ward live state (being written).

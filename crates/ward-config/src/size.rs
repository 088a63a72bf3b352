//! Sizes written the human way (`512MiB`, `1GiB`, `500MB`), or as a number of bytes.
//!
//! `KiB`, `MiB`, `GiB` and `TiB` count in 1024s, `kB`, `MB`, `GB` and `TB` in 1000s (as
//! `du --si` and disk vendors do); units are case-insensitive. A dozen lines of parser
//! rather than a crate: this is the one place the config takes a size.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Units, longest suffix first so `MiB` is not read as `B`.
const UNITS: &[(&str, u64)] = &[
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("b", 1),
];

/// Parses `512MiB`, `1.5 GiB`, `64kB` or `1048576`.
pub(crate) fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let (number, unit) = UNITS
        .iter()
        .find_map(|(suffix, unit)| lower.strip_suffix(suffix).map(|n| (n.trim_end(), *unit)))
        .unwrap_or((lower.as_str(), 1));
    let bad = || format!("invalid size {text:?}; write it like 512MiB, 1GiB or 1073741824");
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    if let Ok(n) = number.parse::<u64>() {
        return n.checked_mul(unit).ok_or_else(bad);
    }
    let n: f64 = number.parse().map_err(|_| bad())?;
    let bytes = (n * unit as f64).round();
    // u64::MAX as f64 rounds up to 2^64, so `<` keeps the cast in range.
    if bytes.is_finite() && bytes < u64::MAX as f64 {
        Ok(bytes as u64)
    } else {
        Err(bad())
    }
}

/// The largest binary unit that divides `bytes`, else the bytes: what [`parse`] reads back.
pub(crate) fn format(bytes: u64) -> String {
    for (suffix, unit) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes != 0 && bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

pub(crate) fn serialize<S: Serializer>(bytes: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format(*bytes))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(SizeVisitor)
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size such as 512MiB or 1GiB, or a number of bytes")
    }

    fn visit_u64<E: de::Error>(self, bytes: u64) -> Result<u64, E> {
        Ok(bytes)
    }

    fn visit_i64<E: de::Error>(self, bytes: i64) -> Result<u64, E> {
        u64::try_from(bytes).map_err(|_| E::custom(format!("negative size {bytes}")))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<u64, E> {
        parse(s).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (text, bytes) in [
            ("1048576", 1 << 20),
            ("512MiB", 512 << 20),
            ("1GiB", 1 << 30),
            ("1 gib", 1 << 30),
            ("1.5GiB", 3 << 29),
            ("64KiB", 64 << 10),
            ("500MB", 500_000_000),
            ("2tb", 2_000_000_000_000),
            ("10B", 10),
        ] {
            assert_eq!(parse(text), Ok(bytes), "{text}");
        }
        for bad in [
            "",
            "MiB",
            "1 furlong",
            "-1GiB",
            "1e3",
            "99999999999TiB",
            "1..5GiB",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        for bytes in [0, 10, 1 << 20, 3 << 29, 1 << 30, 1_000_000] {
            assert_eq!(parse(&format(bytes)), Ok(bytes), "{bytes}");
        }
        assert_eq!(format(1 << 30), "1GiB");
        assert_eq!(format(1536 << 20), "1536MiB");
    }
}

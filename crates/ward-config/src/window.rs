//! Weekly time windows for policy schedules: days of the week and a from-to time of day on
//! the wall clock of an IANA time zone (`Europe/Berlin`; the config's default zone when a
//! window names none). "Block everything 21:00-07:00" is one window that crosses midnight:
//! it starts on each of its days at 21:00 and ends at 07:00 the morning after.
//!
//! Times are compared on the zone's wall clock, so a window keeps its local hours across
//! daylight-saving changes (21:00-07:00 stays 21:00-07:00, ten hours one night a year,
//! eight another). The zone data is bundled into the binary (jiff's `tzdb-bundle-always`):
//! a `FROM scratch` container has no `/usr/share/zoneinfo`.

use std::fmt;
use std::str::FromStr;

pub use jiff::Timestamp;
use jiff::civil::{Time, Weekday};
pub use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Days of the week, as a set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Days(u8);

const DAY_NAMES: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

fn bit(day: Weekday) -> u8 {
    1 << (day.to_monday_zero_offset() as u8)
}

impl Days {
    /// Every day.
    pub const ALL: Days = Days(0x7f);

    /// Whether every day of `other` is one of them.
    pub fn includes(self, other: Days) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether `day` is one of them.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & bit(day) != 0
    }

    fn parse_one(word: &str) -> Result<Days, String> {
        let w = word.trim().to_ascii_lowercase();
        match w.as_str() {
            "all" | "every day" | "daily" => return Ok(Days::ALL),
            "weekdays" => return Ok(Days(0x1f)),
            "weekends" | "weekend" => return Ok(Days(0x60)),
            _ => {}
        }
        DAY_NAMES
            .iter()
            .find(|(name, _)| w == *name || (w.len() > 3 && name_of(w.as_str()) == Some(*name)))
            .map(|(_, day)| Days(bit(*day)))
            .ok_or_else(|| {
                format!(
                    "{word:?}: expected mon, tue, wed, thu, fri, sat, sun, weekdays, weekends or all"
                )
            })
    }
}

/// `monday` → `mon`, for full day names.
fn name_of(word: &str) -> Option<&'static str> {
    const FULL: [(&str, &str); 7] = [
        ("monday", "mon"),
        ("tuesday", "tue"),
        ("wednesday", "wed"),
        ("thursday", "thu"),
        ("friday", "fri"),
        ("saturday", "sat"),
        ("sunday", "sun"),
    ];
    FULL.iter()
        .find(|(full, _)| *full == word)
        .map(|(_, short)| *short)
}

impl FromStr for Days {
    type Err = String;

    /// `mon,wed`, `weekdays`, `sat sun`, `all`.
    fn from_str(s: &str) -> Result<Days, String> {
        let mut days = Days(0);
        for word in s.split([',', ' ']).filter(|w| !w.trim().is_empty()) {
            days.0 |= Days::parse_one(word)?.0;
        }
        if days.0 == 0 {
            return Err("no day given".into());
        }
        Ok(days)
    }
}

impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0x7f => f.write_str("all"),
            0x1f => f.write_str("weekdays"),
            0x60 => f.write_str("weekends"),
            _ => {
                let names: Vec<&str> = DAY_NAMES
                    .iter()
                    .filter(|(_, d)| self.contains(*d))
                    .map(|(n, _)| *n)
                    .collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

impl Serialize for Days {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Days {
    /// A string (`weekdays`, `mon,tue`) or a list of day words.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Days, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(String),
            Many(Vec<String>),
        }
        let text = match Form::deserialize(d)? {
            Form::One(s) => s,
            Form::Many(words) => words.join(","),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A time of day on the wall clock, to the minute: `07:00`, `21:30`; `24:00` is the end of
/// the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }

    fn of(time: Time) -> TimeOfDay {
        TimeOfDay(time.hour() as u16 * 60 + time.minute() as u16)
    }
}

impl FromStr for TimeOfDay {
    type Err = String;

    fn from_str(s: &str) -> Result<TimeOfDay, String> {
        let bad = || format!("{s:?}: expected a time of day, hh:mm (07:00, 21:30, 24:00)");
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if m >= 60 || h > 24 || (h == 24 && m != 0) || s.trim().len() != 5 {
            return Err(bad());
        }
        Ok(TimeOfDay(h * 60 + m))
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TimeOfDay, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An IANA time zone by name, checked against the bundled zone data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// The zone's name, as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A zone from jiff's, named by its IANA name (`local` when it has none: a `TZ` rule
    /// string, say). This is how the server makes the default zone of a config without
    /// `time_zone` from the system's (this crate reads no environment).
    pub fn of(tz: TimeZone) -> Zone {
        Zone {
            name: tz.iana_name().unwrap_or("local").to_owned(),
            tz,
        }
    }

    /// Coordinated Universal Time.
    pub fn utc() -> Zone {
        Zone::of(TimeZone::UTC)
    }
}

impl FromStr for Zone {
    type Err = String;

    /// `Europe/Berlin`, `America/New_York`, `UTC`.
    fn from_str(s: &str) -> Result<Zone, String> {
        let name = s.trim();
        let tz = jiff::tz::db().get(name).map_err(|_| {
            format!("{name:?}: not an IANA time zone (Europe/Berlin, America/New_York, UTC)")
        })?;
        Ok(Zone {
            name: name.to_owned(),
            tz,
        })
    }
}

impl Serialize for Zone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Zone, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A weekly window: on `days`, from `from` to `to` on the wall clock of `zone` (or the
/// default zone). `to` at or before `from` ends the next day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// The days it starts on.
    pub days: Days,
    /// When it starts.
    pub from: TimeOfDay,
    /// When it ends (exclusive); at or before `from`, on the next day.
    pub to: TimeOfDay,
    /// Its time zone, when not the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<Zone>,
}

impl Window {
    /// Whether the window is open at `at`, on the wall clock of its zone or else `default`.
    pub fn contains(&self, at: Timestamp, default: &Zone) -> bool {
        let zone = self.time_zone.as_ref().unwrap_or(default);
        let local = at.to_zoned(zone.tz.clone());
        let day = local.weekday();
        let now = TimeOfDay::of(local.time());
        if self.from < self.to {
            self.days.contains(day) && self.from <= now && now < self.to
        } else {
            // Across midnight: the evening part on its own days, the morning part on the
            // day after each of them. from == to is the whole 24 hours from `from`.
            (self.days.contains(day) && now >= self.from)
                || (self.days.contains(day.previous()) && now < self.to)
        }
    }
}

/// An instant written as RFC 3339 (`2026-12-02T21:30:00Z`), for the config's instants
/// (`dns.protection_disabled_until`).
pub mod instant {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some(t)` as RFC 3339.
    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(t),
            None => s.serialize_none(),
        }
    }

    /// Reads RFC 3339 with an offset.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            t.trim().parse::<Timestamp>().map_err(|e| {
                serde::de::Error::custom(format!(
                    "{t:?}: expected an instant, RFC 3339 (2026-12-02T21:30:00Z): {e}"
                ))
            })
        })
        .transpose()
    }
}

/// A time as `ward check --at` and `/api/v1/check?at=` take it, relative to `now` and
/// on the wall clock of `zone` unless it has an offset: RFC 3339
/// (`2026-12-04T21:30:00+01:00`, `2026-12-04T20:30:00Z`), a date and time
/// (`2026-12-04T21:30`, `2026-12-04 21:30`), a time today (`21:30`), or a day and a time
/// (`fri 21:30`: the coming Friday, today if it is one).
pub fn parse_at(text: &str, now: Timestamp, zone: &Zone) -> Result<Timestamp, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "{text:?}: expected a time: 21:30, fri 21:30, 2026-12-04T21:30 or \
             2026-12-04T21:30:00+01:00"
        )
    };
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let wall = |civil: jiff::civil::DateTime| {
        civil
            .to_zoned(zone.tz.clone())
            .map(|z| z.timestamp())
            .map_err(|e| format!("{text:?}: {e}"))
    };
    if let Ok(civil) = text.replacen(' ', "T", 1).parse::<jiff::civil::DateTime>() {
        if text.contains('-') {
            return wall(civil);
        }
    }
    let (day, time) = match text.split_once(' ') {
        Some((day, time)) => (Some(day), time),
        None => (None, text),
    };
    let time: TimeOfDay = time.trim().parse().map_err(|_| bad())?;
    let today = now.to_zoned(zone.tz.clone()).date();
    let date = match day {
        None => today,
        Some(day) => {
            let wanted = Days::parse_one(day).map_err(|_| bad())?;
            let ahead = (0..7)
                .find(|n| {
                    today
                        .checked_add(jiff::Span::new().days(*n))
                        .is_ok_and(|d| wanted == Days(bit(d.weekday())))
                })
                .ok_or_else(bad)?;
            today
                .checked_add(jiff::Span::new().days(ahead))
                .map_err(|e| format!("{text:?}: {e}"))?
        }
    };
    let minutes = time.minutes();
    let civil = if minutes == 24 * 60 {
        date.tomorrow().map_err(|e| e.to_string())?.at(0, 0, 0, 0)
    } else {
        date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0)
    };
    wall(civil)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> Zone {
        name.parse().unwrap()
    }

    fn window(days: &str, from: &str, to: &str) -> Window {
        Window {
            days: days.parse().unwrap(),
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            time_zone: None,
        }
    }

    /// An instant given as a wall-clock time in `tz`.
    fn at(local: &str, tz: &str) -> Timestamp {
        let civil: jiff::civil::DateTime = local.parse().unwrap();
        civil.to_zoned(zone(tz).tz).unwrap().timestamp()
    }

    #[test]
    fn windows_open_and_close_on_their_days_and_across_midnight() {
        let berlin = zone("Europe/Berlin");
        let homework = window("weekdays", "16:00", "19:00");
        let bedtime = window("all", "21:00", "07:00");
        let friday_night = window("fri", "22:00", "02:00");
        // 2026-12-04 is a Friday, 2026-12-05 a Saturday, 2026-12-07 a Monday.
        for (w, local, open) in [
            (&homework, "2026-12-04T16:00:00", true),
            (&homework, "2026-12-04T15:59:59", false),
            (&homework, "2026-12-04T18:59:59", true),
            (&homework, "2026-12-04T19:00:00", false),
            (&homework, "2026-12-05T17:00:00", false), // Saturday
            (&homework, "2026-12-07T17:00:00", true),  // Monday
            (&bedtime, "2026-12-04T21:00:00", true),
            (&bedtime, "2026-12-04T23:59:59", true),
            (&bedtime, "2026-12-05T00:00:00", true),
            (&bedtime, "2026-12-05T06:59:59", true),
            (&bedtime, "2026-12-05T07:00:00", false),
            (&bedtime, "2026-12-05T20:59:59", false),
            (&friday_night, "2026-12-04T23:00:00", true),
            (&friday_night, "2026-12-05T01:59:00", true), // Saturday morning: Friday's window
            (&friday_night, "2026-12-05T02:00:00", false),
            (&friday_night, "2026-12-05T23:00:00", false), // Saturday night: not its day
            (&friday_night, "2026-12-04T01:00:00", false), // Friday morning: Thursday's
        ] {
            assert_eq!(
                w.contains(at(local, "Europe/Berlin"), &berlin),
                open,
                "{w:?} at {local}"
            );
        }
    }

    #[test]
    fn the_zone_is_the_windows_own_or_the_default() {
        let bedtime = window("all", "21:00", "07:00");
        // 21:30 in Berlin is 20:30 UTC (winter): closed on UTC's clock, open on Berlin's.
        let instant = at("2026-12-04T21:30:00", "Europe/Berlin");
        assert!(bedtime.contains(instant, &zone("Europe/Berlin")));
        assert!(!bedtime.contains(instant, &zone("UTC")));
        let in_berlin = Window {
            time_zone: Some(zone("Europe/Berlin")),
            ..bedtime.clone()
        };
        assert!(in_berlin.contains(instant, &zone("UTC")));
        let new_york = zone("America/New_York");
        assert!(!bedtime.contains(instant, &new_york), "15:30 in New York");
    }

    #[test]
    fn windows_keep_their_wall_clock_hours_across_daylight_saving_changes() {
        let berlin = zone("Europe/Berlin");
        let bedtime = window("all", "21:00", "07:00");
        // 2026-03-29: clocks go from 02:00 to 03:00 in Berlin; 2026-10-25: 03:00 to 02:00.
        for (local, open) in [
            ("2026-03-28T21:00:00", true),
            ("2026-03-29T03:30:00", true),
            ("2026-03-29T06:59:00", true),
            ("2026-03-29T07:00:00", false),
            ("2026-10-25T02:30:00", true),
            ("2026-10-25T07:00:00", false),
        ] {
            assert_eq!(
                bedtime.contains(at(local, "Europe/Berlin"), &berlin),
                open,
                "{local}"
            );
        }
        // The spring night is an hour shorter in real time, the autumn one an hour longer.
        let length = |evening: &str, morning: &str| {
            (at(morning, "Europe/Berlin").as_second() - at(evening, "Europe/Berlin").as_second())
                / 3600
        };
        assert_eq!(length("2026-03-28T21:00:00", "2026-03-29T07:00:00"), 9);
        assert_eq!(length("2026-10-24T21:00:00", "2026-10-25T07:00:00"), 11);
    }

    #[test]
    fn check_times_read_as_a_parent_writes_them() {
        let berlin = zone("Europe/Berlin");
        // Wednesday 2026-12-02, 10:00 in Berlin.
        let now = at("2026-12-02T10:00:00", "Europe/Berlin");
        for (text, local) in [
            ("21:30", "2026-12-02T21:30:00"),
            ("wed 07:00", "2026-12-02T07:00:00"),
            ("fri 21:30", "2026-12-04T21:30:00"),
            ("Tuesday 08:15", "2026-12-08T08:15:00"),
            ("2026-12-24T18:00", "2026-12-24T18:00:00"),
            ("2026-12-24 18:00", "2026-12-24T18:00:00"),
        ] {
            assert_eq!(
                parse_at(text, now, &berlin).unwrap(),
                at(local, "Europe/Berlin"),
                "{text}"
            );
        }
        assert_eq!(
            parse_at("2026-12-04T20:30:00Z", now, &berlin).unwrap(),
            at("2026-12-04T21:30:00", "Europe/Berlin")
        );
        for bad in ["", "tonight", "25:00", "someday 10:00", "21:30:99"] {
            assert!(
                parse_at(bad, now, &berlin)
                    .unwrap_err()
                    .contains("expected a time"),
                "{bad}"
            );
        }
    }

    #[test]
    fn days_times_and_zones_parse_or_say_why_not() {
        assert_eq!("weekdays".parse::<Days>().unwrap().to_string(), "weekdays");
        assert_eq!("sat, sun".parse::<Days>().unwrap().to_string(), "weekends");
        assert_eq!("Monday,wed".parse::<Days>().unwrap().to_string(), "mon,wed");
        assert_eq!("all".parse::<Days>().unwrap(), Days::ALL);
        assert!(
            "funday"
                .parse::<Days>()
                .unwrap_err()
                .contains("expected mon")
        );
        assert!("".parse::<Days>().unwrap_err().contains("no day"));
        assert_eq!("07:05".parse::<TimeOfDay>().unwrap().minutes(), 425);
        assert_eq!("24:00".parse::<TimeOfDay>().unwrap().minutes(), 1440);
        for bad in ["7:00", "24:01", "12:60", "noon", "12:00:00"] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
        }
        assert!("Europe/Berlin".parse::<Zone>().is_ok());
        assert!(
            "Mars/Olympus"
                .parse::<Zone>()
                .unwrap_err()
                .contains("not an IANA time zone")
        );
        // As the config writes them.
        let w: Window = serde_norway::from_str(
            "{ days: [mon, fri], from: \"21:00\", to: \"07:00\", time_zone: Europe/Berlin }",
        )
        .unwrap();
        assert_eq!(w.days.to_string(), "mon,fri");
        assert_eq!(w.time_zone.as_ref().unwrap().name(), "Europe/Berlin");
        let text = serde_norway::to_string(&w).unwrap();
        assert_eq!(serde_norway::from_str::<Window>(&text).unwrap(), w);
    }
}

//! UTC timestamps as text, for write times and `--as-of`.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        // A clock before 1970 is broken; negative times would still order correctly.
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// `2026-11-03T14:05:09.123Z`
pub fn utc_text(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(at) => at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        // Beyond chrono's quarter-million years: no write time is, but say something true.
        None => format!("{ms} ms since 1970"),
    }
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `…:SS` or `…:SS.fff`, with an optional `Z` (the
/// time is UTC either way; a space may stand for the `T`). `None` if it is not such a time.
pub fn parse_utc(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches(['Z', 'z']).replacen([' ', 't'], "T", 1);
    let at = match text.split_once('T') {
        None => NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()?.and_time(NaiveTime::MIN),
        Some((_, time)) => {
            // chrono's %.f takes any number of digits, %S no fraction: pick by the text.
            let format = match (time.matches(':').count(), time.contains('.')) {
                (1, false) => "%Y-%m-%dT%H:%M",
                (2, false) => "%Y-%m-%dT%H:%M:%S",
                (2, true) => "%Y-%m-%dT%H:%M:%S%.f",
                _ => return None,
            };
            NaiveDateTime::parse_from_str(&text, format).ok()?
        }
    };
    Some(at.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_parses_short_forms() {
        for ms in [0, 1_700_000_000_123, 951_782_400_000, -86_400_000] {
            assert_eq!(parse_utc(&utc_text(ms)), Some(ms), "{}", utc_text(ms));
        }
        assert_eq!(utc_text(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(parse_utc("2023-11-14"), Some(1_699_920_000_000));
        assert_eq!(parse_utc("2023-11-14T22:13"), Some(1_700_000_000_000 - 20_000));
        assert_eq!(parse_utc("2023-11-14 22:13:20.5Z"), Some(1_700_000_000_500));
        assert_eq!(parse_utc("yesterday"), None);
        assert_eq!(parse_utc("2023-13-01"), None);
    }
}

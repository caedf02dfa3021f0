//! UTC timestamps as text, for write times. Kept here (a few lines of civil-date arithmetic,
//! Howard Hinnant's algorithm) rather than pulling in a date crate for two conversions.

use std::time::{SystemTime, UNIX_EPOCH};

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
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `…:SS` or `…:SS.fff`, with an optional `Z` (the
/// time is UTC either way; a space may stand for the `T`). `None` if it is not such a time.
pub fn parse_utc(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches(['Z', 'z']);
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    if let Some(time) = time {
        let (hms, frac) = match time.split_once('.') {
            Some((hms, frac)) => (hms, Some(frac)),
            None => (time, None),
        };
        let mut fields = hms.split(':');
        let h: i64 = fields.next()?.parse().ok()?;
        let min: i64 = fields.next()?.parse().ok()?;
        let s: i64 = fields.next().map(str::parse).transpose().ok()?.unwrap_or(0);
        if fields.next().is_some() || h > 23 || min > 59 || s > 60 {
            return None;
        }
        ms += (h * 3600 + min * 60 + s) * 1000;
        if let Some(frac) = frac {
            if frac.is_empty() || !frac.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let digits: String = frac.chars().chain("000".chars()).take(3).collect();
            ms += digits.parse::<i64>().ok()?;
        }
    }
    Some(ms)
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

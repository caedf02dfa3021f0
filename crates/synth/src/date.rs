//! Calendar dates as day numbers, printed M/D/YYYY without leading zeros like the TCIA file.
//!
//! Day arithmetic is all the generator needs (CT + days to surgery, surgery + days to death),
//! so a day count and Howard Hinnant's civil-calendar conversions beat a date crate.

use std::fmt;

/// Days since 1970-01-01 (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(i64);

impl Date {
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Date {
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Date(era * 146_097 + doe - 719_468)
    }

    pub fn ymd(self) -> (i64, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }

    pub fn year(self) -> i64 {
        self.ymd().0
    }

    pub fn plus_days(self, days: i64) -> Date {
        Date(self.0 + days)
    }

    /// `self - earlier` in days.
    pub fn days_since(self, earlier: Date) -> i64 {
        self.0 - earlier.0
    }

    /// Parses M/D/YYYY; for tests that check the written file.
    pub fn parse_mdy(text: &str) -> Option<Date> {
        let mut parts = text.split('/');
        let month: u32 = parts.next()?.parse().ok()?;
        let day: u32 = parts.next()?.parse().ok()?;
        let year: i64 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        let date = Date::from_ymd(year, month, day);
        (date.ymd() == (year, month, day)).then_some(date)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.ymd();
        write!(f, "{month}/{day}/{year}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_prints_like_the_tcia_file() {
        assert_eq!(Date::from_ymd(1970, 1, 1), Date(0));
        let date = Date::from_ymd(1994, 8, 10);
        assert_eq!(date.to_string(), "8/10/1994");
        // AMC-001 in the real file: CT 8/10/1994, 9 days to surgery, died 872 days later.
        assert_eq!(date.plus_days(9).plus_days(872).to_string(), "1/7/1997");
        assert_eq!(Date::parse_mdy("2/29/1992").map(|d| d.ymd()), Some((1992, 2, 29)));
        assert_eq!(Date::parse_mdy("2/29/1993"), None);
        for day in -1000..100_000 {
            let (y, m, d) = Date(day).ymd();
            assert_eq!(Date::from_ymd(y, m, d), Date(day));
        }
    }
}

//! Calendar dates, printed M/D/YYYY without leading zeros like the TCIA file; day arithmetic
//! (CT + days to surgery, surgery + days to death) is what the generator needs.

use std::fmt;

use chrono::{Datelike, NaiveDate, TimeDelta};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(NaiveDate);

impl Date {
    /// A date of the generator's own tables. It is never derived from input, so an impossible
    /// one is a mistake in this crate's source.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Date {
        match NaiveDate::from_ymd_opt(year, month, day) {
            Some(date) => Date(date),
            None => panic!("{year}-{month}-{day} is not a calendar date"),
        }
    }

    pub fn year(self) -> i64 {
        i64::from(self.0.year())
    }

    /// Saturates at chrono's range (±262,143 years), far beyond any cohort's dates.
    pub fn plus_days(self, days: i64) -> Date {
        Date(self.0.checked_add_signed(TimeDelta::days(days)).unwrap_or(if days < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        }))
    }

    /// `self - earlier` in days.
    pub fn days_since(self, earlier: Date) -> i64 {
        (self.0 - earlier.0).num_days()
    }

    /// Parses M/D/YYYY; for tests that check the written file.
    pub fn parse_mdy(text: &str) -> Option<Date> {
        let mut parts = text.split('/');
        let month: u32 = parts.next()?.parse().ok()?;
        let day: u32 = parts.next()?.parse().ok()?;
        let year: i32 = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        NaiveDate::from_ymd_opt(year, month, day).map(Date)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.0.month(), self.0.day(), self.0.year())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_prints_like_the_tcia_file() {
        assert_eq!(Date::from_ymd(1970, 1, 2).days_since(Date::from_ymd(1970, 1, 1)), 1);
        let date = Date::from_ymd(1994, 8, 10);
        assert_eq!(date.to_string(), "8/10/1994");
        // AMC-001 in the real file: CT 8/10/1994, 9 days to surgery, died 872 days later.
        assert_eq!(date.plus_days(9).plus_days(872).to_string(), "1/7/1997");
        assert_eq!(Date::parse_mdy("2/29/1992").map(|d| d.to_string()).as_deref(), Some("2/29/1992"));
        assert_eq!(Date::parse_mdy("2/29/1993"), None);
        assert_eq!(Date::parse_mdy("1/2/3/4"), None);
    }
}

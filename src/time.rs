//! FILETIME and civil (proleptic Gregorian, UTC) dates without `std`.
//!
//! KMS carries time as a Windows FILETIME: a count of 100 ns intervals since
//! 1601-01-01 00:00 UTC (kms-protocol.md §1). The ePID carries a calendar date
//! as day-of-year + year (§8.5). Both need only integer arithmetic, done here
//! with the classic days-from-civil / civil-from-days algorithms
//! (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
use core::fmt;

/// Seconds from 1601-01-01 to 1970-01-01.
pub const UNIX_EPOCH_FILETIME_SECS: i64 = 11_644_473_600;
/// FILETIME ticks (100 ns) per second.
pub const TICKS_PER_SEC: u64 = 10_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// A Windows FILETIME: 100 ns intervals since 1601-01-01 00:00 UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileTime(pub u64);

impl FileTime {
    /// 1970-01-01 00:00:00 UTC.
    pub const UNIX_EPOCH: FileTime = FileTime(UNIX_EPOCH_FILETIME_SECS as u64 * TICKS_PER_SEC);

    /// From Unix seconds: `(unix + 11644473600) * 10_000_000`. Times before
    /// 1601 saturate to 0, times beyond the u64 range to `u64::MAX`.
    pub const fn from_unix(secs: i64) -> Self {
        let s = secs.saturating_add(UNIX_EPOCH_FILETIME_SECS);
        if s < 0 {
            return FileTime(0);
        }
        FileTime((s as u64).saturating_mul(TICKS_PER_SEC))
    }

    /// From Unix milliseconds (JavaScript's `Date.now()`), saturating like
    /// [`FileTime::from_unix`].
    pub const fn from_unix_millis(ms: i64) -> Self {
        Self::from_unix_nanos(ms as i128 * 1_000_000)
    }

    /// From Unix nanoseconds (truncated to 100 ns, towards the past),
    /// saturating like [`FileTime::from_unix`].
    pub const fn from_unix_nanos(nanos: i128) -> Self {
        let ticks =
            nanos.div_euclid(100) + UNIX_EPOCH_FILETIME_SECS as i128 * TICKS_PER_SEC as i128;
        if ticks < 0 {
            FileTime(0)
        } else if ticks > u64::MAX as i128 {
            FileTime(u64::MAX)
        } else {
            FileTime(ticks as u64)
        }
    }

    /// Midnight UTC at the start of `date`.
    pub fn from_date(date: Date) -> Self {
        Self::from_unix(date.days_since_unix_epoch() * SECS_PER_DAY)
    }

    /// Whole Unix seconds (rounded towards the past).
    pub const fn to_unix(self) -> i64 {
        (self.0 / TICKS_PER_SEC) as i64 - UNIX_EPOCH_FILETIME_SECS
    }

    /// |self − other| in whole seconds.
    pub const fn abs_diff_secs(self, other: FileTime) -> u64 {
        self.0.abs_diff(other.0) / TICKS_PER_SEC
    }

    /// Adds (or, if negative, subtracts) seconds, saturating at the ends of the range.
    pub const fn add_secs(self, secs: i64) -> Self {
        let d = secs.unsigned_abs().saturating_mul(TICKS_PER_SEC);
        if secs >= 0 {
            FileTime(self.0.saturating_add(d))
        } else {
            FileTime(self.0.saturating_sub(d))
        }
    }

    pub const fn from_le_bytes(b: [u8; 8]) -> Self {
        FileTime(u64::from_le_bytes(b))
    }

    pub const fn to_le_bytes(self) -> [u8; 8] {
        self.0.to_le_bytes()
    }

    /// The UTC calendar date.
    pub fn date(self) -> Date {
        self.to_datetime().date
    }

    /// The UTC date and time of day.
    pub fn to_datetime(self) -> DateTime {
        let secs_1601 = self.0 / TICKS_PER_SEC;
        let days_1601 = (secs_1601 / SECS_PER_DAY as u64) as i64;
        let sod = (secs_1601 % SECS_PER_DAY as u64) as u32;
        DateTime {
            date: Date::from_days_since_unix_epoch(
                days_1601 - UNIX_EPOCH_FILETIME_SECS / SECS_PER_DAY,
            ),
            hour: (sod / 3600) as u8,
            minute: (sod / 60 % 60) as u8,
            second: (sod % 60) as u8,
            ticks: (self.0 % TICKS_PER_SEC) as u32,
        }
    }
}

impl fmt::Display for FileTime {
    /// `2024-06-01 00:00:00` (UTC, sub-second part omitted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_datetime(), f)
    }
}

/// A calendar date (proleptic Gregorian). Ordered chronologically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

pub const fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1–12) of `year`; 0 for an invalid month.
pub const fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days before the first of each month in a common year.
const CUMULATIVE_DAYS: [u16; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

impl Date {
    /// The earliest and latest representable dates.
    pub const MIN: Date = Date {
        year: 0,
        month: 1,
        day: 1,
    };
    pub const MAX: Date = Date {
        year: u16::MAX,
        month: 12,
        day: 31,
    };

    /// A validated date.
    pub const fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month) {
            Some(Date { year, month, day })
        } else {
            None
        }
    }

    /// Parses exactly `YYYY-MM-DD` (e.g. `2018-10-02`) into a valid date.
    pub const fn parse_iso(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let mut v = [0u16; 8];
        let mut i = 0;
        let mut k = 0;
        while i < 10 {
            if i != 4 && i != 7 {
                if !b[i].is_ascii_digit() {
                    return None;
                }
                v[k] = (b[i] - b'0') as u16;
                k += 1;
            }
            i += 1;
        }
        let year = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
        Date::new(year, (v[4] * 10 + v[5]) as u8, (v[6] * 10 + v[7]) as u8)
    }

    /// The date `d` days after 1970-01-01 (negative: before), clamped to
    /// [`Date::MIN`]..=[`Date::MAX`].
    pub fn from_days_since_unix_epoch(d: i64) -> Date {
        if d <= Date::MIN.days_since_unix_epoch() {
            return Date::MIN;
        }
        if d >= Date::MAX.days_since_unix_epoch() {
            return Date::MAX;
        }
        // civil_from_days: eras of 400 years (146 097 days) starting 0000-03-01.
        let z = d + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097); // [0, 146096]
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1
        let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            year: year as u16,
            month,
            day,
        }
    }

    /// Days since 1970-01-01 (negative before it).
    pub const fn days_since_unix_epoch(self) -> i64 {
        // days_from_civil.
        let m = self.month as i64;
        let y = self.year as i64 - if m <= 2 { 1 } else { 0 };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400); // [0, 399]
        let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
        let doy = (153 * mp + 2) / 5 + self.day as i64 - 1; // [0, 365]
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
        era * 146_097 + doe - 719_468
    }

    /// Day of the year, 1-based (January 1 = 1).
    pub const fn day_of_year(self) -> u16 {
        let mut n = CUMULATIVE_DAYS[(self.month as usize).wrapping_sub(1) % 12] + self.day as u16;
        if self.month > 2 && is_leap_year(self.year) {
            n += 1;
        }
        n
    }

    /// The date of a 1-based day of `year`, if that day exists.
    pub fn from_year_day(year: u16, day_of_year: u16) -> Option<Date> {
        let len = if is_leap_year(year) { 366 } else { 365 };
        if day_of_year == 0 || day_of_year > len {
            return None;
        }
        let jan1 = Date {
            year,
            month: 1,
            day: 1,
        }
        .days_since_unix_epoch();
        Some(Date::from_days_since_unix_epoch(
            jan1 + i64::from(day_of_year) - 1,
        ))
    }

    /// The UTC date of a Unix time in seconds.
    pub fn from_unix(secs: i64) -> Date {
        Date::from_days_since_unix_epoch(secs.div_euclid(SECS_PER_DAY))
    }

    /// Unix seconds at midnight UTC starting this date.
    pub const fn to_unix(self) -> i64 {
        self.days_since_unix_epoch() * SECS_PER_DAY
    }
}

impl fmt::Display for Date {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A UTC date and time of day, for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    pub date: Date,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Sub-second part in 100 ns ticks (0..10 000 000); not displayed.
    pub ticks: u32,
}

impl fmt::Display for DateTime {
    /// `2024-06-01 00:00:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use std::string::ToString;

    const fn d(year: u16, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn filetime_known_values() {
        // 2024-01-01T00:00:00Z
        let ft = FileTime(133_485_408_000_000_000);
        assert_eq!(ft.to_unix(), 1_704_067_200);
        assert_eq!(FileTime::from_unix(1_704_067_200), ft);
        assert_eq!(ft.date(), d(2024, 1, 1));
        assert_eq!(ft.to_datetime().to_string(), "2024-01-01 00:00:00");
        assert_eq!(FileTime::from_date(d(2024, 1, 1)), ft);
        // 1717200000 = 2024-06-01T00:00:00Z
        assert_eq!(
            FileTime::from_unix(1_717_200_000).to_string(),
            "2024-06-01 00:00:00"
        );
        assert_eq!(Date::from_unix(1_717_200_000), d(2024, 6, 1));
        assert_eq!(Date::from_unix(1_717_200_000 + 86_399), d(2024, 6, 1));
        assert_eq!(FileTime::UNIX_EPOCH, FileTime::from_unix(0));
        assert_eq!(FileTime::UNIX_EPOCH.0, 116_444_736_000_000_000);
        assert_eq!(FileTime(0).to_datetime().to_string(), "1601-01-01 00:00:00");
        assert_eq!(FileTime(0).to_unix(), -UNIX_EPOCH_FILETIME_SECS);
        let t = FileTime::from_unix(1_717_245_296); // 2024-06-01 12:34:56
        assert_eq!(t.to_string(), "2024-06-01 12:34:56");
    }

    #[test]
    fn filetime_conversions_and_saturation() {
        assert_eq!(FileTime::from_unix(i64::MIN), FileTime(0));
        assert_eq!(
            FileTime::from_unix(-UNIX_EPOCH_FILETIME_SECS - 1),
            FileTime(0)
        );
        assert_eq!(FileTime::from_unix(i64::MAX), FileTime(u64::MAX));
        assert_eq!(
            FileTime::from_unix_millis(1_704_067_200_123).0,
            133_485_408_001_230_000
        );
        assert_eq!(
            FileTime::from_unix_nanos(1_704_067_200_000_000_199).0,
            133_485_408_000_000_001
        );
        assert_eq!(FileTime::from_unix_nanos(-1).0, FileTime::UNIX_EPOCH.0 - 1);
        assert_eq!(FileTime::from_unix_nanos(i128::MAX), FileTime(u64::MAX));
        let a = FileTime::from_unix(1000);
        let b = FileTime::from_unix(1000 + 4 * 3600);
        assert_eq!(a.abs_diff_secs(b), 14_400);
        assert_eq!(b.abs_diff_secs(a), 14_400);
        assert_eq!(a.add_secs(4 * 3600), b);
        assert_eq!(b.add_secs(-4 * 3600), a);
        assert_eq!(FileTime(5).add_secs(-1), FileTime(0));
        let ft = FileTime(0x01DA_3C5F_1234_5678);
        assert_eq!(FileTime::from_le_bytes(ft.to_le_bytes()), ft);
        // u64::MAX is in year 60056: displayable, no panic.
        assert_eq!(FileTime(u64::MAX).date().year, 60056);
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(d(1970, 1, 1).days_since_unix_epoch(), 0);
        assert_eq!(d(1969, 12, 31).days_since_unix_epoch(), -1);
        assert_eq!(d(2000, 3, 1).days_since_unix_epoch(), 11_017);
        assert_eq!(d(1601, 1, 1).days_since_unix_epoch(), -134_774);
        assert_eq!(Date::from_days_since_unix_epoch(19_875), d(2024, 6, 1));
        for n in (-700_000i64..800_000).step_by(7) {
            let date = Date::from_days_since_unix_epoch(n);
            assert_eq!(date.days_since_unix_epoch(), n, "{date}");
            assert!(Date::new(date.year, date.month, date.day).is_some());
        }
        // Consecutive days are consecutive dates across leap days.
        let mut prev = Date::from_days_since_unix_epoch(10_956); // 1999-12-31
        assert_eq!(prev, d(1999, 12, 31));
        for n in 10_957..11_500 {
            let cur = Date::from_days_since_unix_epoch(n);
            assert!(cur > prev);
            prev = cur;
        }
        assert_eq!(Date::from_days_since_unix_epoch(i64::MIN), Date::MIN);
        assert_eq!(Date::from_days_since_unix_epoch(i64::MAX), Date::MAX);
        assert_eq!(
            Date::from_days_since_unix_epoch(Date::MAX.days_since_unix_epoch()),
            Date::MAX
        );
        assert_eq!(
            Date::from_days_since_unix_epoch(Date::MIN.days_since_unix_epoch()),
            Date::MIN
        );
    }

    #[test]
    fn day_of_year_is_one_based() {
        assert_eq!(d(2018, 1, 1).day_of_year(), 1);
        assert_eq!(d(2018, 10, 24).day_of_year(), 297); // vlmcsd default ePID "2972018"
        assert_eq!(d(2018, 12, 31).day_of_year(), 365);
        assert_eq!(d(2024, 12, 31).day_of_year(), 366);
        assert_eq!(d(2024, 3, 1).day_of_year(), 61);
        assert_eq!(d(2023, 3, 1).day_of_year(), 60);
        assert_eq!(Date::from_year_day(2018, 297), Some(d(2018, 10, 24)));
        assert_eq!(Date::from_year_day(2024, 366), Some(d(2024, 12, 31)));
        assert_eq!(Date::from_year_day(2023, 366), None);
        assert_eq!(Date::from_year_day(2023, 0), None);
        for y in [1900u16, 2000, 2023, 2024] {
            let mut date = d(y, 1, 1);
            for n in 1..=if is_leap_year(y) { 366 } else { 365 } {
                assert_eq!(date.day_of_year(), n);
                assert_eq!(Date::from_year_day(y, n), Some(date));
                date = Date::from_days_since_unix_epoch(date.days_since_unix_epoch() + 1);
            }
        }
    }

    #[test]
    fn parse_iso() {
        assert_eq!(Date::parse_iso("2018-10-02"), Some(d(2018, 10, 2)));
        assert_eq!(Date::parse_iso("2024-02-29"), Some(d(2024, 2, 29)));
        assert_eq!(Date::parse_iso("2000-02-29"), Some(d(2000, 2, 29)));
        const C: Option<Date> = Date::parse_iso("2021-08-18");
        assert_eq!(C, Some(d(2021, 8, 18)));
        for bad in [
            "",
            "2018-10-2",
            "2018/10/02",
            "2018-13-01",
            "2018-00-01",
            "2018-10-00",
            "2023-02-29",
            "1900-02-29",
            "2018-04-31",
            "2018-10-02 ",
            "+018-10-02",
            "２018-10-0",
        ] {
            assert_eq!(Date::parse_iso(bad), None, "{bad}");
        }
        assert_eq!(d(2018, 10, 2).to_string(), "2018-10-02");
        assert!(
            d(2018, 10, 2) < d(2018, 10, 3)
                && d(2018, 10, 31) < d(2018, 11, 1)
                && d(2018, 12, 31) < d(2019, 1, 1)
        );
    }
}

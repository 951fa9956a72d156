// Numbers on the command line: one parser (decimal, 0x hex, a leading minus) for every verb.

/// The number a word spells: `42`, `0x2a`, `-1`; None for anything else.
pub fn parse(word: &str) -> Option<i128> {
    let (negative, digits) = match word.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            i128::from_str_radix(hex, 16).ok()?
        }
        Some(_) => return None,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()?
        }
        None => return None,
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// The number a word spells, if it fits T: `as_type::<u8>("256")` is None.
pub fn as_type<T: TryFrom<i128>>(word: &str) -> Option<T> {
    parse(word).and_then(|n| T::try_from(n).ok())
}

/// The range of T, for "out of range" messages: `0..=65535`.
pub fn range_of<T: TryFrom<i128>>() -> String {
    // Find the bounds by bisection over i128 (T is an integer type of at most 64 bits).
    let fits = |n: i128| T::try_from(n).is_ok();
    let max = bound(fits, 0, 1 << 64);
    let min = -bound(|n: i128| fits(-n), 0, 1 << 64);
    format!("{min}..={max}")
}

/// The largest n in lo..=hi with fits(n), given fits(lo).
fn bound(fits: impl Fn(i128) -> bool, mut lo: i128, mut hi: i128) -> i128 {
    if fits(hi) {
        return hi;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_that_fit_a_type() {
        assert_eq!(as_type::<u64>("42"), Some(42));
        assert_eq!(as_type::<u64>("0x1f"), Some(31));
        assert_eq!(as_type::<u8>("256"), None);
        assert_eq!(as_type::<u32>("0x"), None);
        assert_eq!(as_type::<u32>("-1"), None);
        assert_eq!(as_type::<u32>("x1"), None);
        assert_eq!(as_type::<i32>("-1"), Some(-1));
    }

    #[test]
    fn decimal_hex_and_negative() {
        assert_eq!(parse("42"), Some(42));
        assert_eq!(parse("0x2a"), Some(42));
        assert_eq!(parse("0X2A"), Some(42));
        assert_eq!(parse("-1"), Some(-1));
        for bad in ["", "-", "0x", "1e3", "x1", "12a", " 1", "+1"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(range_of::<u16>(), "0..=65535");
        assert_eq!(range_of::<i32>(), "-2147483648..=2147483647");
        assert_eq!(range_of::<u64>(), "0..=18446744073709551615");
    }
}

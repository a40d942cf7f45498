//! Python 3 `repr()` of values produced by Python's `json.loads`.
//!
//! SylkServer builds several error texts with `f"... {value!r}"`; to produce
//! byte-identical texts we have to render JSON values the way CPython's
//! `repr()` renders the corresponding `None`/`bool`/`int`/`float`/`str`/
//! `list`/`dict` objects.
//!
//! Known approximations:
//! - Python's `str.isprintable()` is driven by the full Unicode database; here
//!   the non-printable set is approximated by an explicit list of code point
//!   ranges (controls, format characters, separators, private use, noncharacters
//!   and a few large unassigned areas). Unassigned code points elsewhere are
//!   treated as printable.
//! - Integers too large for `i64`/`u64` are parsed by serde_json as floats and
//!   therefore rendered as floats (Python would keep them as `int`).

use serde_json::Value;

/// Python `repr()` of the Python object that `json.loads` would produce for `v`.
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// Python `repr()` of a Python `str` with the contents `s`.
pub fn py_repr_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(f) = n.as_f64() {
                out.push_str(&float_repr(f));
            } else {
                // Not reachable without serde_json's arbitrary_precision; fall
                // back to serde_json's own rendering.
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Python `repr(float)`: shortest round-trip digits, positional notation for
/// decimal exponents in `-4..16`, scientific notation otherwise.
fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.to_owned();
    }

    // Rust's `{:e}` yields the shortest round-trip digits: "-1.2345e-7", "1e16", "0e0".
    // When the exact value lies halfway between two shortest candidates, Rust
    // rounds up while Python (David Gay's dtoa) rounds half to even. Rust's
    // fixed-precision formatting is correctly rounded with ties to even, so
    // re-render with the same number of digits and keep that if it round-trips.
    let shortest = format!("{f:e}");
    let digit_count = shortest
        .split('e')
        .next()
        .unwrap_or("")
        .bytes()
        .filter(u8::is_ascii_digit)
        .count();
    let rounded = format!("{:.*e}", digit_count.saturating_sub(1), f);
    let sci = if rounded.parse::<f64>().ok() == Some(f) {
        rounded
    } else {
        shortest
    };
    let (negative, sci) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci.as_str()),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let digits = if digits.is_empty() {
        "0".to_owned()
    } else {
        digits
    };

    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    }
    out
}

fn write_str(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let cp = c as u32;
                if cp < 0x100 {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp < 0x10000 {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
        }
    }
    out.push(quote);
}

/// Approximation of Python's `str.isprintable()` for a single character.
fn is_printable(c: char) -> bool {
    let cp = c as u32;
    if cp < 0x80 {
        // ASCII: controls (Cc) and DEL are not printable; space is.
        return (0x20..0x7f).contains(&cp);
    }
    // Noncharacters (Cn): U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF in every plane.
    if (0xFDD0..=0xFDEF).contains(&cp) || cp & 0xFFFE == 0xFFFE {
        return false;
    }
    !matches!(
        cp,
        // C1 controls (Cc), no-break space (Zs), soft hyphen (Cf).
        0x80..=0xA0
            | 0xAD
            // Arabic/Syriac format characters (Cf).
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            // Ogham space mark (Zs), Mongolian vowel separator (Cf).
            | 0x1680
            | 0x180E
            // Spaces (Zs), zero-width and directional marks (Cf).
            | 0x2000..=0x200F
            // Line/paragraph separators (Zl/Zp), embeddings (Cf), narrow nbsp (Zs).
            | 0x2028..=0x202F
            // Medium math space (Zs), invisible operators, isolates (Cf, Cn).
            | 0x205F..=0x206F
            // Ideographic space (Zs).
            | 0x3000
            // Surrogates (cannot occur in a Rust str) and private use (Co).
            | 0xD800..=0xF8FF
            // BOM / zero-width no-break space (Cf).
            | 0xFEFF
            // Unassigned (Cn) and interlinear annotation characters (Cf).
            | 0xFFF0..=0xFFFB
            // Supplementary-plane format characters (Cf).
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            // Unassigned planes 4..13 (Cn).
            | 0x40000..=0xDFFFF
            // Plane 14 outside the variation selectors supplement: tags (Cf) and Cn.
            | 0xE0000..=0xE00FF
            | 0xE01F0..=0xEFFFF
            // Supplementary private use planes 15 and 16 (Co).
            | 0xF0000..=0x10FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(x: f64) -> String {
        py_repr(&json!(x))
    }

    #[test]
    fn scalars() {
        assert_eq!(py_repr(&json!(null)), "None");
        assert_eq!(py_repr(&json!(true)), "True");
        assert_eq!(py_repr(&json!(false)), "False");
        assert_eq!(py_repr(&json!(0)), "0");
        assert_eq!(py_repr(&json!(42)), "42");
        assert_eq!(py_repr(&json!(-7)), "-7");
        assert_eq!(py_repr(&json!(i64::MIN)), "-9223372036854775808");
        assert_eq!(py_repr(&json!(u64::MAX)), "18446744073709551615");
    }

    #[test]
    fn floats_positional() {
        assert_eq!(f(1.0), "1.0");
        assert_eq!(f(0.0), "0.0");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(2.5), "2.5");
        assert_eq!(f(-2.5), "-2.5");
        assert_eq!(f(100000.0), "100000.0");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00012), "0.00012");
        assert_eq!(f(123.456), "123.456");
        assert_eq!(f(12345.678), "12345.678");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(f(1e15), "1000000000000000.0");
        assert_eq!(f(1234567890123456.0), "1234567890123456.0");
        assert_eq!(f(9999999999999998.0), "9999999999999998.0");
    }

    #[test]
    fn floats_scientific() {
        assert_eq!(f(1e16), "1e+16");
        assert_eq!(f(-1e16), "-1e+16");
        assert_eq!(f(1.5e-5), "1.5e-05");
        assert_eq!(f(0.00001), "1e-05");
        assert_eq!(f(1.234e20), "1.234e+20");
        assert_eq!(f(1e100), "1e+100");
        assert_eq!(f(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(f(5e-324), "5e-324");
        assert_eq!(f(2.2250738585072014e-308), "2.2250738585072014e-308");
        assert_eq!(f(1.2345678901234567e16), "1.2345678901234568e+16");
    }

    #[test]
    fn floats_ties_round_half_even() {
        // Exactly representable halfway cases: Python picks the even last digit.
        assert_eq!(f(572570385441398.0 + 0.25), "572570385441398.2");
        assert_eq!(f(162279398421634.0 + 0.625), "162279398421634.62");
        assert_eq!(f(1459774851475661.0 + 0.25), "1459774851475661.2");
    }

    #[test]
    fn floats_from_parsed_json() {
        let v: Value = serde_json::from_str("[1e16, 1.0, 1E2, 2.50, -0.0, 1e-7]").unwrap();
        assert_eq!(py_repr(&v), "[1e+16, 1.0, 100.0, 2.5, -0.0, 1e-07]");
    }

    #[test]
    fn float_non_finite() {
        assert_eq!(float_repr(f64::NAN), "nan");
        assert_eq!(float_repr(f64::INFINITY), "inf");
        assert_eq!(float_repr(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn string_quotes() {
        assert_eq!(py_repr(&json!("abc")), "'abc'");
        assert_eq!(py_repr(&json!("")), "''");
        assert_eq!(py_repr(&json!("it's")), "\"it's\"");
        assert_eq!(py_repr(&json!("a\"b'c")), "'a\"b\\'c'");
        assert_eq!(py_repr(&json!("say \"hi\"")), "'say \"hi\"'");
        assert_eq!(py_repr_str("'"), "\"'\"");
        assert_eq!(py_repr_str("\""), "'\"'");
    }

    #[test]
    fn string_escapes() {
        assert_eq!(py_repr_str("a\\b"), "'a\\\\b'");
        assert_eq!(py_repr_str("a\nb\rc\td"), "'a\\nb\\rc\\td'");
        assert_eq!(py_repr_str("\0"), "'\\x00'");
        assert_eq!(py_repr_str("\x1b[0m"), "'\\x1b[0m'");
        assert_eq!(py_repr_str("\x1f"), "'\\x1f'");
        assert_eq!(py_repr_str("\x7f"), "'\\x7f'");
        assert_eq!(py_repr_str("\u{0b}\u{0c}"), "'\\x0b\\x0c'");
        assert_eq!(py_repr_str(" ~"), "' ~'");
    }

    #[test]
    fn string_non_ascii() {
        assert_eq!(py_repr_str("é"), "'é'");
        assert_eq!(py_repr_str("中文"), "'中文'");
        assert_eq!(py_repr_str("😀"), "'😀'");
        assert_eq!(py_repr_str("\u{80}"), "'\\x80'");
        assert_eq!(py_repr_str("\u{9f}"), "'\\x9f'");
        assert_eq!(py_repr_str("\u{a0}"), "'\\xa0'");
        assert_eq!(py_repr_str("\u{a1}"), "'¡'");
        assert_eq!(py_repr_str("\u{ad}"), "'\\xad'");
        assert_eq!(py_repr_str("\u{ff}"), "'ÿ'");
        assert_eq!(py_repr_str("\u{2028}\u{2029}"), "'\\u2028\\u2029'");
        assert_eq!(py_repr_str("\u{200b}"), "'\\u200b'");
        assert_eq!(py_repr_str("\u{200f}"), "'\\u200f'");
        assert_eq!(py_repr_str("\u{202a}\u{202e}"), "'\\u202a\\u202e'");
        assert_eq!(py_repr_str("\u{2060}\u{2064}"), "'\\u2060\\u2064'");
        assert_eq!(py_repr_str("\u{feff}"), "'\\ufeff'");
        assert_eq!(py_repr_str("\u{1680}"), "'\\u1680'");
        assert_eq!(py_repr_str("\u{2000}\u{200a}"), "'\\u2000\\u200a'");
        assert_eq!(
            py_repr_str("\u{202f}\u{205f}\u{3000}"),
            "'\\u202f\\u205f\\u3000'"
        );
        assert_eq!(py_repr_str("\u{fff9}\u{fffb}"), "'\\ufff9\\ufffb'");
        assert_eq!(py_repr_str("\u{e000}\u{f8ff}"), "'\\ue000\\uf8ff'");
        assert_eq!(py_repr_str("\u{fffe}\u{ffff}"), "'\\ufffe\\uffff'");
        assert_eq!(py_repr_str("\u{fffd}"), "'\u{fffd}'");
        assert_eq!(py_repr_str("\u{f0000}"), "'\\U000f0000'");
        assert_eq!(py_repr_str("\u{10fffd}"), "'\\U0010fffd'");
        assert_eq!(py_repr_str("\u{e0001}"), "'\\U000e0001'");
        assert_eq!(py_repr_str("\u{1fffe}"), "'\\U0001fffe'");
        assert_eq!(
            py_repr_str("\u{2010}\u{2027}\u{2030}"),
            "'\u{2010}\u{2027}\u{2030}'"
        );
    }

    #[test]
    fn containers() {
        assert_eq!(py_repr(&json!([])), "[]");
        assert_eq!(py_repr(&json!({})), "{}");
        assert_eq!(py_repr(&json!([1, "a", [2]])), "[1, 'a', [2]]");
        assert_eq!(
            py_repr(&json!({"a": [1, 2.5, null, true]})),
            "{'a': [1, 2.5, None, True]}"
        );
        assert_eq!(
            py_repr(&json!({"it's": {"x": false}, "b": {}})),
            "{\"it's\": {'x': False}, 'b': {}}"
        );
    }

    #[test]
    fn object_preserves_insertion_order() {
        let v: Value = serde_json::from_str(r#"{"z": 1, "a": 2, "m": [3]}"#).unwrap();
        assert_eq!(py_repr(&v), "{'z': 1, 'a': 2, 'm': [3]}");
    }
}

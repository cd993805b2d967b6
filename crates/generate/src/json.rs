//! Minimal JSON writing helpers: records are written by hand for speed.

/// Appends `v` as a JSON string (quoted and escaped).
pub(crate) fn push_str(out: &mut Vec<u8>, v: &str) {
    out.push(b'"');
    push_escaped(out, v);
    out.push(b'"');
}

/// Appends the escaped contents of a JSON string, without quotes.
pub(crate) fn push_escaped(out: &mut Vec<u8>, v: &str) {
    let bytes = v.as_bytes();
    if !bytes.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b if b < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            b => out.push(b),
        }
    }
}

/// Appends a decimal integer.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_numbers() {
        let mut v = Vec::new();
        push_str(&mut v, "a\"b\\c\n\u{1}");
        assert_eq!(v, br#""a\"b\\c\n\u0001""#);
        v.clear();
        push_u64(&mut v, 0);
        push_u64(&mut v, 18_446_744_073_709_551_615);
        assert_eq!(v, b"018446744073709551615");
    }
}

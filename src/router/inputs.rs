//! Texts from an Arrow `string` / `large_string` column's buffers (offsets + UTF-8 data + an
//! optional validity mask), for routing a column without building a string object per row on the
//! caller's side (the Python binding `route_utf8`).

use crate::error::{Result, TierscopeError};

/// The texts of an Arrow `string`/`large_string` layout: row `i` is
/// `data[offsets[i]..offsets[i + 1]]`; a row whose `valid[i]` is false (a null) is `""`.
pub fn texts_from_buffers(offsets: &[i64], data: &[u8], valid: Option<&[bool]>) -> Result<Vec<String>> {
    let n = offsets.len().saturating_sub(1);
    if valid.is_some_and(|v| v.len() != n) {
        return Err(TierscopeError::invalid("valid", format!("one flag per text ({n})")));
    }
    (0..n)
        .map(|i| {
            if valid.is_some_and(|v| !v[i]) {
                return Ok(String::new());
            }
            let (start, end) = (offsets[i], offsets[i + 1]);
            let range = usize::try_from(start).ok().zip(usize::try_from(end).ok());
            let bytes = match range {
                Some((s, e)) if s <= e && e <= data.len() => &data[s..e],
                _ => {
                    return Err(TierscopeError::invalid(
                        format!("offsets[{i}]"),
                        format!("ascending offsets within the {}-byte data buffer", data.len()),
                    ))
                }
            };
            std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| {
                TierscopeError::invalid(format!("texts[{i}]"), "valid UTF-8 (an Arrow string column)")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_become_texts_and_nulls_become_empty() {
        let data = "héllo!ab".as_bytes();
        let texts = texts_from_buffers(&[0, 6, 7, 9], data, Some(&[true, false, true])).unwrap();
        assert_eq!(texts, vec!["héllo".to_string(), String::new(), "ab".to_string()]);
        assert!(texts_from_buffers(&[0, 12], data, None).unwrap_err().to_string().contains("offsets[0]"));
        assert!(texts_from_buffers(&[0, 2], &[0xff, 0xfe], None)
            .unwrap_err()
            .to_string()
            .contains("texts[0]"));
        assert!(texts_from_buffers(&[0], data, None).unwrap().is_empty());
    }
}

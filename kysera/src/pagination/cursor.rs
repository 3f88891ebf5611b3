//! Cursor (keyset) pagination: an opaque cursor carries the last row's order values, checked
//! against the order it was made for.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::core::error::{Error, Result};
use crate::core::input::CursorError;
use crate::query::{CmpOp, Expr, Filter, Order, OrderBy, Value, val};

/// One page of a cursor-paginated query (`paginateCursor` in the TypeScript Kysera).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CursorPage<T> {
    /// The rows on this page.
    pub items: Vec<T>,
    /// Pass this to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// Whether more rows follow.
    pub has_more: bool,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    /// `column:a|d` for each order term.
    k: Vec<String>,
    /// The last row's values of those columns.
    v: Vec<serde_json::Value>,
}

/// 64-bit FNV-1a: detects a cursor edited or cut by hand (not a signature; a cursor carries no
/// secret and gives no access a query would not).
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn order_key(order: &[OrderBy]) -> Result<Vec<String>> {
    order
        .iter()
        .map(|o| match &o.expr {
            Expr::Column(c) => Ok(format!(
                "{}:{}",
                c.column,
                if o.order == Order::Asc { 'a' } else { 'd' }
            )),
            _ => Err(Error::InvalidQuery(
                "cursor pagination orders by columns only".into(),
            )),
        })
        .collect()
}

fn value_to_json(v: &Value) -> Result<serde_json::Value> {
    use serde_json::json;
    Ok(match v {
        Value::Bool(Some(b)) => json!({ "b": b }),
        Value::TinyInt(Some(i)) => json!({ "i": i }),
        Value::SmallInt(Some(i)) => json!({ "i": i }),
        Value::Int(Some(i)) => json!({ "i": i }),
        Value::BigInt(Some(i)) => json!({ "i": i }),
        Value::TinyUnsigned(Some(i)) => json!({ "i": i }),
        Value::SmallUnsigned(Some(i)) => json!({ "i": i }),
        Value::Unsigned(Some(i)) => json!({ "i": i }),
        // By their bits: exact, and JSON has no NaN or infinity (they came back as null).
        Value::Float(Some(f)) => json!({ "f32b": f.to_bits() }),
        Value::Double(Some(f)) => json!({ "fb": f.to_bits() }),
        Value::String(Some(s)) => json!({ "s": s }),
        Value::ChronoDate(Some(d)) => json!({ "d": d }),
        Value::ChronoTime(Some(t)) => json!({ "t": t }),
        Value::ChronoDateTime(Some(t)) => json!({ "dt": t }),
        Value::ChronoDateTimeUtc(Some(t)) => json!({ "dtu": t }),
        Value::Uuid(Some(u)) => json!({ "u": u }),
        #[cfg(feature = "rust_decimal")]
        Value::Decimal(Some(d)) => json!({ "dec": d.to_string() }),
        #[cfg(feature = "time")]
        Value::TimeDate(Some(t)) => json!({ "td": t }),
        #[cfg(feature = "time")]
        Value::TimeTime(Some(t)) => json!({ "tt": t }),
        #[cfg(feature = "time")]
        Value::TimeDateTime(Some(t)) => json!({ "tdt": t }),
        #[cfg(feature = "time")]
        Value::TimeDateTimeWithTimeZone(Some(t)) => json!({ "tdtu": t }),
        other => {
            return Err(Error::InvalidQuery(format!(
                "cursor pagination cannot order by a NULL or {other:?} value; order by non-null scalar columns"
            )));
        }
    })
}

fn json_to_value(j: &serde_json::Value) -> Option<Value> {
    let (tag, v) = j.as_object()?.iter().next()?;
    fn parse<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Option<T> {
        serde_json::from_value(v.clone()).ok()
    }
    Some(match tag.as_str() {
        "b" => Value::Bool(Some(v.as_bool()?)),
        "i" => Value::BigInt(Some(v.as_i64()?)),
        "f" => Value::Double(Some(v.as_f64()?)),
        // Compared as the column's own f32: widening the decimal text to f64 would not be equal.
        "f32" => Value::Float(Some(v.as_f64()? as f32)),
        "fb" => Value::Double(Some(f64::from_bits(v.as_u64()?))),
        "f32b" => Value::Float(Some(f32::from_bits(u32::try_from(v.as_u64()?).ok()?))),
        "s" => Value::String(Some(v.as_str()?.to_string())),
        "d" => Value::ChronoDate(Some(parse(v)?)),
        "t" => Value::ChronoTime(Some(parse(v)?)),
        "dt" => Value::ChronoDateTime(Some(parse(v)?)),
        "dtu" => Value::ChronoDateTimeUtc(Some(parse(v)?)),
        "u" => Value::Uuid(Some(parse(v)?)),
        #[cfg(feature = "rust_decimal")]
        "dec" => Value::Decimal(Some(v.as_str()?.parse().ok()?)),
        #[cfg(feature = "time")]
        "td" => Value::TimeDate(Some(parse(v)?)),
        #[cfg(feature = "time")]
        "tt" => Value::TimeTime(Some(parse(v)?)),
        #[cfg(feature = "time")]
        "tdt" => Value::TimeDateTime(Some(parse(v)?)),
        #[cfg(feature = "time")]
        "tdtu" => Value::TimeDateTimeWithTimeZone(Some(parse(v)?)),
        _ => return None,
    })
}

/// HMAC-SHA256 of a cursor's payload under the application's key.
type Mac = hmac::Hmac<sha2::Sha256>;

/// The first byte of a signed cursor.
const SIGNED: u8 = 1;
/// The first byte of an encrypted cursor.
const ENCRYPTED: u8 = 2;
/// An encrypted cursor's nonce and authentication tag lengths (ChaCha20-Poly1305).
const NONCE: usize = 12;
const TAG: usize = 16;

/// How an executor protects its cursors beyond the checksum: signed (HMAC-SHA256; the values
/// stay readable) or encrypted (ChaCha20-Poly1305, which also authenticates: neither readable
/// nor forgeable). The secrets never appear in `Debug` output.
#[derive(Clone)]
pub(crate) enum CursorKey {
    /// HMAC-SHA256 under the application's key.
    Sign(std::sync::Arc<[u8]>),
    /// ChaCha20-Poly1305 under a key derived from the application's.
    Encrypt(std::sync::Arc<[u8; 32]>),
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CursorKey::Sign(_) => "CursorKey::Sign(..)",
            CursorKey::Encrypt(_) => "CursorKey::Encrypt(..)",
        })
    }
}

impl CursorKey {
    /// Signing with `key` (any length; 32 random bytes or more is a good key).
    pub(crate) fn sign(key: &[u8]) -> Self {
        CursorKey::Sign(std::sync::Arc::from(key))
    }
    /// Encrypting with a 256-bit key derived from `key` by SHA-256 under a fixed label (so the
    /// same secret used for signing elsewhere gives another key here).
    pub(crate) fn encrypt(key: &[u8]) -> Self {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(b"kysera cursor encryption v1\0");
        h.update(key);
        CursorKey::Encrypt(std::sync::Arc::new(h.finalize().into()))
    }
}

fn mac(key: &[u8], json: &[u8]) -> Mac {
    use hmac::Mac as _;
    // HMAC takes a key of any length.
    let mut m = <Mac as hmac::Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <Mac as hmac::Mac>::new_from_slice(&[0]).expect("a one-byte HMAC key"));
    m.update(json);
    m
}

fn cipher(key: &[u8; 32]) -> chacha20poly1305::ChaCha20Poly1305 {
    use chacha20poly1305::KeyInit as _;
    chacha20poly1305::ChaCha20Poly1305::new(key.into())
}

/// 96 random bits for a nonce, from a version-4 UUID's random bytes (its version and variant
/// bits, in bytes 6 and 8, left out).
fn nonce() -> [u8; NONCE] {
    let u = uuid::Uuid::new_v4();
    let b = u.as_bytes();
    let mut n = [0u8; NONCE];
    n[..6].copy_from_slice(&b[..6]);
    n[6..].copy_from_slice(&b[9..15]);
    n
}

/// Encodes the last row's order values as an opaque cursor: checksummed, signed or encrypted as
/// `key` says (see [`Executor::with_cursor_key`](crate::Executor::with_cursor_key) and
/// [`Executor::with_encrypted_cursors`](crate::Executor::with_encrypted_cursors)).
pub(crate) fn encode_cursor(
    order: &[OrderBy],
    values: &[Value],
    key: Option<&CursorKey>,
) -> Result<String> {
    let payload = Payload {
        k: order_key(order)?,
        v: values.iter().map(value_to_json).collect::<Result<_>>()?,
    };
    let json = serde_json::to_vec(&payload).map_err(|e| Error::InvalidQuery(e.to_string()))?;
    let bytes = match key {
        Some(CursorKey::Sign(key)) => {
            use hmac::Mac as _;
            let mut b = vec![SIGNED];
            b.extend_from_slice(&mac(key, &json).finalize().into_bytes());
            b.extend_from_slice(&json);
            b
        }
        Some(CursorKey::Encrypt(key)) => {
            use chacha20poly1305::aead::Aead as _;
            let n = nonce();
            let sealed = cipher(key)
                .encrypt((&n).into(), json.as_slice())
                .map_err(|_| Error::InvalidQuery("the cursor could not be encrypted".into()))?;
            let mut b = Vec::with_capacity(1 + NONCE + sealed.len());
            b.push(ENCRYPTED);
            b.extend_from_slice(&n);
            b.extend_from_slice(&sealed);
            b
        }
        None => {
            let mut b = checksum(&json).to_be_bytes().to_vec();
            b.extend_from_slice(&json);
            b
        }
    };
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Decodes a cursor made for `order` into the values it carries. With a `key`, only a cursor
/// signed (or encrypted) with it is accepted; without one, only a checksummed one.
pub(crate) fn decode_cursor(
    order: &[OrderBy],
    cursor: &str,
    key: Option<&CursorKey>,
) -> Result<Vec<Value>> {
    let tampered = || Error::InvalidCursor(CursorError::Tampered);
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| tampered())?;
    let opened;
    let json: &[u8] = match key {
        Some(CursorKey::Sign(key)) => {
            use hmac::Mac as _;
            if bytes.len() < 33 || bytes[0] != SIGNED {
                return Err(tampered());
            }
            let (tag, json) = bytes[1..].split_at(32);
            // Compared in constant time.
            mac(key, json).verify_slice(tag).map_err(|_| tampered())?;
            json
        }
        Some(CursorKey::Encrypt(key)) => {
            use chacha20poly1305::aead::Aead as _;
            if bytes.len() < 1 + NONCE + TAG || bytes[0] != ENCRYPTED {
                return Err(tampered());
            }
            let (n, sealed) = bytes[1..].split_at(NONCE);
            // Authenticated: an edited, truncated or foreign cursor does not open.
            opened = cipher(key)
                .decrypt(n.into(), sealed)
                .map_err(|_| tampered())?;
            &opened
        }
        None => {
            if bytes.len() < 8 {
                return Err(tampered());
            }
            let (sum, json) = bytes.split_at(8);
            if sum != checksum(json).to_be_bytes() {
                return Err(tampered());
            }
            json
        }
    };
    let payload: Payload = serde_json::from_slice(json).map_err(|_| tampered())?;
    let expected = order_key(order)?;
    if payload.k != expected {
        return Err(Error::InvalidCursor(CursorError::OrderMismatch(
            payload.k.join(", "),
        )));
    }
    if payload.v.len() != expected.len() {
        return Err(tampered());
    }
    payload
        .v
        .iter()
        .map(|j| json_to_value(j).ok_or_else(tampered))
        .collect()
}

/// The rows after `values` in `order`: `(a > x) OR (a = x AND b > y) OR …`, with `<` for
/// descending terms.
pub(crate) fn after(order: &[OrderBy], values: Vec<Value>) -> Filter {
    let mut any = Vec::with_capacity(order.len());
    for i in 0..order.len() {
        let mut all: Vec<Filter> = order[..i]
            .iter()
            .zip(&values)
            .map(|(o, v)| o.expr.clone().compare(CmpOp::Eq, val(v.clone())))
            .collect();
        let op = if order[i].order == Order::Asc {
            CmpOp::Gt
        } else {
            CmpOp::Lt
        };
        all.push(order[i].expr.clone().compare(op, val(values[i].clone())));
        any.push(Filter::And(all));
    }
    Filter::Or(any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::col;

    fn order() -> Vec<OrderBy> {
        vec![
            OrderBy {
                expr: col("created"),
                order: Order::Desc,
            },
            OrderBy {
                expr: col("id"),
                order: Order::Asc,
            },
        ]
    }

    #[test]
    fn f32_cursor_values_stay_f32() {
        let order = vec![OrderBy {
            expr: col("r"),
            order: Order::Asc,
        }];
        let c = encode_cursor(&order, &[Value::Float(Some(0.1))], None).unwrap();
        assert_eq!(
            decode_cursor(&order, &c, None).unwrap(),
            [Value::Float(Some(0.1))]
        );
    }

    #[test]
    fn non_finite_and_signed_zero_floats_round_trip_exactly() {
        let order = vec![OrderBy {
            expr: col("f"),
            order: Order::Asc,
        }];
        for f in [
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.1,
            f64::MIN_POSITIVE,
            f64::MAX,
        ] {
            let c = encode_cursor(&order, &[Value::Double(Some(f))], None).unwrap();
            match decode_cursor(&order, &c, None).unwrap().as_slice() {
                [Value::Double(Some(g))] => assert_eq!(g.to_bits(), f.to_bits(), "{f}"),
                other => panic!("{f}: {other:?}"),
            }
        }
        let c = encode_cursor(&order, &[Value::Double(Some(f64::NAN))], None).unwrap();
        assert!(
            matches!(decode_cursor(&order, &c, None).unwrap().as_slice(), [Value::Double(Some(g))] if g.is_nan())
        );
        for f in [f32::INFINITY, f32::NEG_INFINITY, 0.1f32] {
            let c = encode_cursor(&order, &[Value::Float(Some(f))], None).unwrap();
            assert_eq!(
                decode_cursor(&order, &c, None).unwrap(),
                [Value::Float(Some(f))],
                "{f}"
            );
        }
    }

    #[test]
    fn signed_and_encrypted_cursors_verify_their_key() {
        let tampered =
            |r: Result<Vec<Value>>| matches!(r, Err(Error::InvalidCursor(CursorError::Tampered)));
        let vals = vec![Value::from("secret-ish text"), Value::from(1i64)];
        for key in [
            CursorKey::sign(b"app secret"),
            CursorKey::encrypt(b"app secret"),
        ] {
            let key = Some(&key);
            let made = encode_cursor(&order(), &vals, key).unwrap();
            assert_eq!(decode_cursor(&order(), &made, key).unwrap(), vals);
            // Another key (of either kind), no key, an unsigned cursor where a key is set, an
            // edited payload, a cut one.
            for other in [CursorKey::sign(b"other"), CursorKey::encrypt(b"other")] {
                assert!(tampered(decode_cursor(&order(), &made, Some(&other))));
            }
            assert!(tampered(decode_cursor(&order(), &made, None)));
            let unsigned = encode_cursor(&order(), &vals, None).unwrap();
            assert!(tampered(decode_cursor(&order(), &unsigned, key)));
            let mut bytes = URL_SAFE_NO_PAD.decode(&made).unwrap();
            let last = bytes.len() - 3;
            bytes[last] ^= 1;
            assert!(tampered(decode_cursor(
                &order(),
                &URL_SAFE_NO_PAD.encode(&bytes),
                key
            )));
            bytes.truncate(bytes.len() / 2);
            assert!(tampered(decode_cursor(
                &order(),
                &URL_SAFE_NO_PAD.encode(&bytes),
                key
            )));
        }
        // Signed cursors are readable; encrypted ones are not, and two of the same values differ.
        let signed = encode_cursor(&order(), &vals, Some(&CursorKey::sign(b"k"))).unwrap();
        let readable = URL_SAFE_NO_PAD.decode(&signed).unwrap();
        assert!(readable.windows(15).any(|w| w == b"secret-ish text"));
        let key = CursorKey::encrypt(b"k");
        let a = encode_cursor(&order(), &vals, Some(&key)).unwrap();
        let b = encode_cursor(&order(), &vals, Some(&key)).unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        let sealed = URL_SAFE_NO_PAD.decode(&a).unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(format!("{key:?}"), "CursorKey::Encrypt(..)");
    }

    #[test]
    fn cursor_round_trip() {
        let ts = chrono::NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap();
        let vals = vec![Value::from(ts), Value::from(42i64)];
        let c = encode_cursor(&order(), &vals, None).unwrap();
        assert_eq!(decode_cursor(&order(), &c, None).unwrap(), vals);
    }

    #[test]
    fn tampered_cursors_are_refused() {
        let c = encode_cursor(&order(), &[Value::from("x"), Value::from(1i64)], None).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&c).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 1;
        let edited = URL_SAFE_NO_PAD.encode(&bytes);
        for bad in [
            edited.as_str(),
            "",
            "!!!",
            &c[..c.len() - 2],
            "AAAAAAAAAAAA",
        ] {
            assert!(
                matches!(
                    decode_cursor(&order(), bad, None),
                    Err(Error::InvalidCursor(CursorError::Tampered))
                ),
                "{bad}"
            );
        }
        let other = vec![OrderBy {
            expr: col("id"),
            order: Order::Asc,
        }];
        assert!(matches!(
            decode_cursor(&other, &c, None),
            Err(Error::InvalidCursor(CursorError::OrderMismatch(_)))
        ));
    }

    #[test]
    fn keyset_filter_shape() {
        let f = after(&order(), vec![Value::from(5i64), Value::from(9i64)]);
        let Filter::Or(parts) = f else { panic!() };
        assert_eq!(parts.len(), 2);
        assert!(matches!(&parts[0], Filter::And(v) if v.len() == 1));
        assert!(matches!(&parts[1], Filter::And(v) if v.len() == 2));
    }
}

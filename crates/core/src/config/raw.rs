//! A parsed configuration tree that keeps what `serde_json::Value` loses: a map keeps every
//! key in order (so repeats can be found) and a float keeps NaN and the infinities (which
//! `serde_json` turns into `null`, so `threshold = nan` used to read as "not given").

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::ConfigError;

/// One node of a configuration as a parser produced it.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Raw>),
    Map(Vec<(String, Raw)>),
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

impl Raw {
    /// The dotted path of the first key given twice in one mapping, depth first.
    pub(super) fn first_duplicate_key(&self, path: &str) -> Option<String> {
        match self {
            Raw::Map(entries) => {
                let mut seen = std::collections::HashSet::with_capacity(entries.len());
                for (key, value) in entries {
                    let sub = child_path(path, key);
                    if !seen.insert(key.as_str()) {
                        return Some(sub);
                    }
                    if let Some(found) = value.first_duplicate_key(&sub) {
                        return Some(found);
                    }
                }
                None
            }
            Raw::Seq(items) => {
                items.iter().enumerate().find_map(|(i, v)| v.first_duplicate_key(&format!("{path}[{i}]")))
            }
            _ => None,
        }
    }

    /// Converts into JSON, refusing a float that is NaN or infinite (naming its key); a
    /// repeated key keeps its last value, as `config` merges.
    pub(super) fn into_value(self, path: &str) -> Result<Value, ConfigError> {
        Ok(match self {
            Raw::Null => Value::Null,
            Raw::Bool(b) => Value::Bool(b),
            Raw::Int(i) => Value::from(i),
            Raw::UInt(u) => Value::from(u),
            Raw::Float(f) => match Number::from_f64(f) {
                Some(n) => Value::Number(n),
                None => {
                    let key = if path.is_empty() { "(top level)".to_owned() } else { path.to_owned() };
                    return Err(ConfigError::NonFinite { key, value: f.to_string() });
                }
            },
            Raw::Str(s) => Value::String(s),
            Raw::Seq(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| v.into_value(&format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Raw::Map(entries) => {
                let mut map = Map::new();
                for (key, value) in entries {
                    let value = value.into_value(&child_path(path, &key))?;
                    map.insert(key, value);
                }
                Value::Object(map)
            }
        })
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a configuration value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::UInt(v))
    }

    // `config` keeps integers too large for 64 bits as 128-bit ones; they are out of every
    // range here, and as floats they reach the range check that says so.
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
        Ok(u64::try_from(v).map_or(Raw::Float(v as f64), Raw::UInt))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }

    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Raw, D::Error> {
        Raw::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Raw>()? {
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_found_with_their_path() {
        let raw: Raw = serde_json::from_str(r#"{"a": {"b": 1, "c": [{"d": 1, "d": 2}]}}"#).unwrap();
        assert_eq!(raw.first_duplicate_key("").as_deref(), Some("a.c[0].d"));
        let raw: Raw = serde_json::from_str(r#"{"a": 1, "b": {"a": 2}}"#).unwrap();
        assert_eq!(raw.first_duplicate_key(""), None, "one key in two mappings is no repeat");
    }

    #[test]
    fn non_finite_floats_name_their_key() {
        let raw = Raw::Map(vec![("novelty".into(), Raw::Map(vec![("threshold".into(), Raw::Float(f64::NAN))]))]);
        assert_eq!(
            raw.into_value("").unwrap_err(),
            ConfigError::NonFinite { key: "novelty.threshold".into(), value: "NaN".into() }
        );
        let raw = Raw::Seq(vec![Raw::Float(1.0), Raw::Float(f64::NEG_INFINITY)]);
        assert_eq!(
            raw.into_value("x").unwrap_err().to_string(),
            "`x[1]` = -inf is not a finite number; NaN and infinities are refused"
        );
    }
}

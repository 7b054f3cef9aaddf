//! Strings that borrow from the JSON text they are parsed from, unless they hold escapes.
//!
//! serde borrows only a field typed exactly `Cow<str>` and marked `#[serde(borrow)]`: an
//! `Option<Cow<str>>`, a `Vec` of them or a map key is always copied into a new `String`: an
//! allocation and a free per field on the import's hot path (benches/README.md has the cost).
//! Fields use these through `deserialize_with`:
//!
//! ```ignore
//! #[serde(borrow, default, deserialize_with = "borrowed::option")]
//! name: Option<Cow<'a, str>>,
//! ```

use std::borrow::{Borrow, Cow};

use serde::de::{Deserialize, Deserializer, Error, Visitor};
use serde::{Serialize, Serializer};

/// A JSON string: borrowed from the text when it has no escapes, else unescaped into its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Borrow<str> for Text<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// For `Option<Cow<'a, str>>` fields (with `default`): absent or `null` is `None`.
pub fn option<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<Text<'a>>::deserialize(d)?.map(|t| t.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Doc<'a> {
        #[serde(borrow, default, deserialize_with = "option")]
        name: Option<Cow<'a, str>>,
    }

    #[test]
    fn plain_strings_borrow_and_escaped_ones_are_unescaped() {
        let d: Doc<'_> = serde_json::from_str(r#"{"name":"a"}"#).unwrap();
        assert!(matches!(d.name, Some(Cow::Borrowed("a"))));
        let d: Doc<'_> = serde_json::from_str(r#"{"name":"c\"d"}"#).unwrap();
        assert!(matches!(&d.name, Some(Cow::Owned(s)) if s == "c\"d"));
    }

    #[test]
    fn absent_and_null_are_none_and_other_types_are_errors() {
        let d: Doc<'_> = serde_json::from_str(r#"{"name":null}"#).unwrap();
        assert_eq!(d.name, None);
        let err = serde_json::from_str::<Doc<'_>>(r#"{"name":3}"#)
            .err()
            .unwrap();
        assert!(err.to_string().contains("expected a string"), "{err}");
    }
}
